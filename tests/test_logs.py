"""CloudWatch Logs against nimbus: log groups, retention (enforced by the
sweep), tags through both APIs, streams, PutLogEvents limits and per-event
rejections, GetLogEvents tokens, FilterLogEvents with filter patterns,
metric and subscription filters, and a few AWS CLI calls."""
import json
import time

import pytest
from botocore.exceptions import ClientError, ParamValidationError

from conftest import BOTO_GEN
from test_dynamodb_cli import aws  # noqa: F401  (the AWS CLI fixture)

DAY = 86400 * 1000
NEW = BOTO_GEN == "new"


def now_ms():
    return int(time.time() * 1000)


def err(exc):
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def mk(logs, group="g", streams=("s",)):
    logs.create_log_group(logGroupName=group)
    for s in streams:
        logs.create_log_stream(logGroupName=group, logStreamName=s)


def put(logs, group, stream, messages, ts=None):
    ts = ts or now_ms()
    return logs.put_log_events(logGroupName=group, logStreamName=stream,
                               logEvents=[{"timestamp": ts + i, "message": m} for i, m in enumerate(messages)])


# ---- log groups --------------------------------------------------------------------


def test_create_describe_log_group(logs):
    t0 = now_ms()
    logs.create_log_group(logGroupName="/aws/lambda/fn", kmsKeyId="arn:aws:kms:us-east-1:000000000000:key/k",
                          tags={"team": "a"})
    g = logs.describe_log_groups()["logGroups"]
    assert len(g) == 1
    g = g[0]
    assert g["logGroupName"] == "/aws/lambda/fn"
    assert g["arn"] == "arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/fn:*"
    if NEW:   # botocore 1.29 does not know logGroupArn
        assert g["logGroupArn"] == "arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/fn"
    assert abs(g["creationTime"] - t0) < 5000
    assert g["storedBytes"] == 0 and g["metricFilterCount"] == 0
    assert g["kmsKeyId"] == "arn:aws:kms:us-east-1:000000000000:key/k"
    assert "retentionInDays" not in g
    assert g.get("logGroupClass", "STANDARD") == "STANDARD"
    assert logs.list_tags_log_group(logGroupName="/aws/lambda/fn")["tags"] == {"team": "a"}
    with pytest.raises(ClientError) as e:
        logs.create_log_group(logGroupName="/aws/lambda/fn")
    assert err(e) == ("ResourceAlreadyExistsException", "The specified log group already exists")


@pytest.mark.skipif(not NEW, reason="logGroupClass is not in botocore 1.29")
def test_log_group_class(logs):
    logs.create_log_group(logGroupName="ia", logGroupClass="INFREQUENT_ACCESS")
    logs.create_log_group(logGroupName="std")
    got = logs.describe_log_groups(logGroupClass="INFREQUENT_ACCESS")["logGroups"]
    assert [g["logGroupName"] for g in got] == ["ia"] and got[0]["logGroupClass"] == "INFREQUENT_ACCESS"


def test_log_group_name_rules(logs):
    with pytest.raises(ClientError) as e:
        logs.create_log_group(logGroupName="bad name")
    code, msg = err(e)
    assert code == "InvalidParameterException"
    assert msg == ("1 validation error detected: Value 'bad name' at 'logGroupName' failed to satisfy constraint: "
                   "Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+")
    with pytest.raises(ClientError) as e:
        logs.create_log_group(logGroupName="aws/mine")
    assert err(e) == ("InvalidParameterException", "Log groups starting with AWS/ are reserved for AWS.")
    logs.create_log_group(logGroupName="a.b-c_d/e#f")
    with pytest.raises(ClientError) as e:
        logs.create_log_group(logGroupName="x" * 513)
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"


def test_describe_log_groups_pagination_prefix_pattern(logs):
    for n in ["b", "a", "app/one", "app/two", "c"]:
        logs.create_log_group(logGroupName=n)
    names, token = [], None
    while True:
        kw = {"limit": 2}
        if token:
            kw["nextToken"] = token
        r = logs.describe_log_groups(**kw)
        assert len(r["logGroups"]) <= 2
        names += [g["logGroupName"] for g in r["logGroups"]]
        token = r.get("nextToken")
        if not token:
            break
    assert names == ["a", "app/one", "app/two", "b", "c"]
    r = logs.describe_log_groups(logGroupNamePrefix="app/")
    assert [g["logGroupName"] for g in r["logGroups"]] == ["app/one", "app/two"]
    with pytest.raises(ClientError) as e:
        logs.describe_log_groups(nextToken="garbage")
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    if NEW:
        r = logs.describe_log_groups(logGroupNamePattern="p/t")
        assert [g["logGroupName"] for g in r["logGroups"]] == ["app/two"]
        assert set(r["logGroups"][0]) == {"logGroupName", "creationTime", "arn"}
        with pytest.raises(ClientError) as e:
            logs.describe_log_groups(logGroupNamePattern="a", logGroupNamePrefix="a")
        assert e.value.response["Error"]["Code"] == "InvalidParameterException"


def test_delete_log_group(logs):
    mk(logs, "gone", ["s"])
    put(logs, "gone", "s", ["x"])
    logs.delete_log_group(logGroupName="gone")
    assert logs.describe_log_groups()["logGroups"] == []
    with pytest.raises(ClientError) as e:
        logs.delete_log_group(logGroupName="gone")
    assert err(e) == ("ResourceNotFoundException", "The specified log group does not exist.")
    # A new group of the same name starts empty.
    mk(logs, "gone", ["s"])
    assert logs.get_log_events(logGroupName="gone", logStreamName="s")["events"] == []


# ---- retention -----------------------------------------------------------------------


def test_retention_policy_values(logs):
    logs.create_log_group(logGroupName="r")
    with pytest.raises(ClientError) as e:
        logs.put_retention_policy(logGroupName="r", retentionInDays=2)
    code, msg = err(e)
    assert code == "InvalidParameterException"
    assert "Member must satisfy enum value set: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, " \
           "1096, 1827, 2192, 2557, 2922, 3288, 3653]" in msg
    for d in (1, 400, 3653):
        logs.put_retention_policy(logGroupName="r", retentionInDays=d)
        assert logs.describe_log_groups()["logGroups"][0]["retentionInDays"] == d
    logs.delete_retention_policy(logGroupName="r")
    assert "retentionInDays" not in logs.describe_log_groups()["logGroups"][0]
    with pytest.raises(ClientError) as e:
        logs.put_retention_policy(logGroupName="missing", retentionInDays=1)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_retention_enforced_by_event_timestamp(logs):
    mk(logs, "ret", ["s"])
    t = now_ms()
    # One call per event: a batch may not span more than 24 hours.
    for ts, m in [(t - 3 * DAY + 60000, "three days old"), (t - 2 * DAY, "two days old"), (t - 1000, "fresh")]:
        logs.put_log_events(logGroupName="ret", logStreamName="s", logEvents=[{"timestamp": ts, "message": m}])
    assert logs.describe_log_groups()["logGroups"][0]["storedBytes"] == len("three days old two days old fresh") - 2
    logs.put_retention_policy(logGroupName="ret", retentionInDays=3)
    time.sleep(1.5)
    assert len(logs.get_log_events(logGroupName="ret", logStreamName="s")["events"]) == 3
    logs.put_retention_policy(logGroupName="ret", retentionInDays=1)
    deadline = time.time() + 10
    while time.time() < deadline:
        ev = logs.get_log_events(logGroupName="ret", logStreamName="s")["events"]
        if len(ev) == 1:
            break
        time.sleep(0.2)
    assert [e["message"] for e in ev] == ["fresh"]
    assert logs.describe_log_groups()["logGroups"][0]["storedBytes"] == len("fresh")
    # Events older than the retention are now rejected as expired.
    r = logs.put_log_events(logGroupName="ret", logStreamName="s", logEvents=[
        {"timestamp": t - DAY - 60000, "message": "expired"}, {"timestamp": t - DAY + 60000, "message": "ok"}])
    assert r["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}


# ---- tags ------------------------------------------------------------------------------


def test_tags_both_apis(logs):
    logs.create_log_group(logGroupName="t")
    arn = "arn:aws:logs:us-east-1:000000000000:log-group:t"
    logs.tag_log_group(logGroupName="t", tags={"a": "1", "b": "2"})
    logs.tag_resource(resourceArn=arn, tags={"b": "3", "c": "4"})
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"a": "1", "b": "3", "c": "4"}
    logs.untag_log_group(logGroupName="t", tags=["a"])
    logs.untag_resource(resourceArn=arn, tagKeys=["c"])
    assert logs.list_tags_log_group(logGroupName="t")["tags"] == {"b": "3"}
    with pytest.raises(ClientError) as e:
        logs.tag_resource(resourceArn=arn, tags={"k%d" % i: "v" for i in range(50)})
    assert e.value.response["Error"]["Code"] == "TooManyTagsException"
    logs.tag_resource(resourceArn=arn, tags={"k%d" % i: "v" for i in range(49)})
    assert len(logs.list_tags_for_resource(resourceArn=arn)["tags"]) == 50
    with pytest.raises(ClientError) as e:
        logs.list_tags_for_resource(resourceArn="arn:aws:logs:us-east-1:000000000000:log-group:nope")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        logs.list_tags_log_group(logGroupName="nope")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


# ---- streams ---------------------------------------------------------------------------


def test_streams_create_describe_delete(logs):
    with pytest.raises(ClientError) as e:
        logs.create_log_stream(logGroupName="nope", logStreamName="s")
    assert err(e) == ("ResourceNotFoundException", "The specified log group does not exist.")
    mk(logs, "g", ["b", "a", "c/1", "c/2"])
    with pytest.raises(ClientError) as e:
        logs.create_log_stream(logGroupName="g", logStreamName="a")
    assert err(e) == ("ResourceAlreadyExistsException", "The specified log stream already exists")
    st = logs.describe_log_streams(logGroupName="g")["logStreams"]
    assert [s["logStreamName"] for s in st] == ["a", "b", "c/1", "c/2"]
    assert st[0]["arn"] == "arn:aws:logs:us-east-1:000000000000:log-group:g:log-stream:a"
    assert st[0]["storedBytes"] == 0 and "firstEventTimestamp" not in st[0]
    t = now_ms()
    put(logs, "g", "b", ["x", "y"], ts=t - 5000)
    put(logs, "g", "a", ["z"], ts=t - 1000)
    b = [s for s in logs.describe_log_streams(logGroupName="g")["logStreams"] if s["logStreamName"] == "b"][0]
    assert b["firstEventTimestamp"] == t - 5000 and b["lastEventTimestamp"] == t - 4999
    assert abs(b["lastIngestionTime"] - t) < 5000 and b["uploadSequenceToken"]
    r = logs.describe_log_streams(logGroupName="g", orderBy="LastEventTime", descending=True)
    assert [s["logStreamName"] for s in r["logStreams"]][:2] == ["a", "b"]
    r = logs.describe_log_streams(logGroupName="g", logStreamNamePrefix="c/")
    assert [s["logStreamName"] for s in r["logStreams"]] == ["c/1", "c/2"]
    r = logs.describe_log_streams(logGroupName="g", descending=True, limit=3)
    assert [s["logStreamName"] for s in r["logStreams"]] == ["c/2", "c/1", "b"]
    r = logs.describe_log_streams(logGroupName="g", descending=True, limit=3, nextToken=r["nextToken"])
    assert [s["logStreamName"] for s in r["logStreams"]] == ["a"] and "nextToken" not in r
    with pytest.raises(ClientError) as e:
        logs.describe_log_streams(logGroupName="g", orderBy="LastEventTime", logStreamNamePrefix="c")
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    logs.delete_log_stream(logGroupName="g", logStreamName="b")
    with pytest.raises(ClientError) as e:
        logs.delete_log_stream(logGroupName="g", logStreamName="b")
    assert err(e) == ("ResourceNotFoundException", "The specified log stream does not exist.")
    with pytest.raises(ClientError) as e:
        logs.create_log_stream(logGroupName="g", logStreamName="a:b")
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"


# ---- PutLogEvents ------------------------------------------------------------------------


def test_put_log_events_missing_resources(logs):
    ev = [{"timestamp": now_ms(), "message": "m"}]
    with pytest.raises(ClientError) as e:
        logs.put_log_events(logGroupName="nope", logStreamName="s", logEvents=ev)
    assert err(e) == ("ResourceNotFoundException", "The specified log group does not exist.")
    logs.create_log_group(logGroupName="g")
    with pytest.raises(ClientError) as e:
        logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=ev)
    assert err(e) == ("ResourceNotFoundException", "The specified log stream does not exist.")


def test_put_log_events_rules(logs):
    mk(logs)
    t = now_ms()
    # The sequence token is accepted and ignored.
    r = logs.put_log_events(logGroupName="g", logStreamName="s", sequenceToken="bogus",
                            logEvents=[{"timestamp": t, "message": "a"}])
    assert r["nextSequenceToken"] and "rejectedLogEventsInfo" not in r
    with pytest.raises(ClientError) as e:
        logs.put_log_events(logGroupName="g", logStreamName="s",
                            logEvents=[{"timestamp": t, "message": "a"}, {"timestamp": t - 1, "message": "b"}])
    assert err(e) == ("InvalidParameterException",
                      "Log events in a single PutLogEvents request must be in chronological order.")
    with pytest.raises(ClientError) as e:
        logs.put_log_events(logGroupName="g", logStreamName="s",
                            logEvents=[{"timestamp": t - 25 * 3600 * 1000, "message": "a"},
                                       {"timestamp": t, "message": "b"}])
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "24 hours" in e.value.response["Error"]["Message"]
    # Per-event rejections: too old (> 14 days), too new (> 2 h ahead).
    r = logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[
        {"timestamp": t - 15 * DAY, "message": "old1"},
        {"timestamp": t - 15 * DAY + 1, "message": "old2"},
        {"timestamp": t, "message": "kept"},
        {"timestamp": t + 3 * 3600 * 1000, "message": "new"}])
    assert r["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 2, "tooNewLogEventStartIndex": 3}
    msgs = [e["message"] for e in logs.get_log_events(logGroupName="g", logStreamName="s")["events"]]
    assert msgs == ["a", "kept"]


def test_put_log_events_size_limits(logs):
    mk(logs)
    t = now_ms()
    # 1,048,576 bytes including 26 bytes per event: this batch is exactly at the limit.
    n = 4
    size = 1048576 // n - 26
    ok = [{"timestamp": t, "message": "x" * size} for _ in range(n)]
    logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=ok)
    ok[0]["message"] += "y"
    with pytest.raises(ClientError) as e:
        logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=ok)
    code, msg = err(e)
    assert code == "InvalidParameterException" and "1048576" in msg
    with pytest.raises((ClientError, ParamValidationError)):
        logs.put_log_events(logGroupName="g", logStreamName="s",
                            logEvents=[{"timestamp": t, "message": "m"}] * 10001)
    logs.put_log_events(logGroupName="g", logStreamName="s", logEvents=[{"timestamp": t, "message": "m"}] * 10000)
    total = 0
    tok = None
    while True:
        kw = {"logGroupName": "g", "logStreamName": "s", "startFromHead": True}
        if tok:
            kw["nextToken"] = tok
        r = logs.get_log_events(**kw)
        total += len(r["events"])
        if r["nextForwardToken"] == tok:
            break
        tok = r["nextForwardToken"]
    assert total == 10004


# ---- GetLogEvents ------------------------------------------------------------------------


def test_get_log_events_tokens(logs):
    mk(logs)
    t = now_ms() - 60000
    put(logs, "g", "s", ["m%d" % i for i in range(10)], ts=t)
    r = logs.get_log_events(logGroupName="g", logStreamName="s", limit=3)
    assert [e["message"] for e in r["events"]] == ["m7", "m8", "m9"]   # the tail by default
    assert r["nextForwardToken"].startswith("f/") and r["nextBackwardToken"].startswith("b/")
    assert set(r["events"][0]) == {"timestamp", "message", "ingestionTime"}
    back = logs.get_log_events(logGroupName="g", logStreamName="s", limit=3, nextToken=r["nextBackwardToken"])
    assert [e["message"] for e in back["events"]] == ["m4", "m5", "m6"]
    fwd = logs.get_log_events(logGroupName="g", logStreamName="s", nextToken=r["nextForwardToken"])
    assert fwd["events"] == [] and fwd["nextForwardToken"] == r["nextForwardToken"]
    # From the head, page by page, until the same token comes back.
    seen, tok = [], None
    for _ in range(10):
        kw = {"logGroupName": "g", "logStreamName": "s", "limit": 4, "startFromHead": True}
        if tok:
            kw["nextToken"] = tok
        p = logs.get_log_events(**kw)
        seen += [e["message"] for e in p["events"]]
        if p["nextForwardToken"] == tok:
            break
        tok = p["nextForwardToken"]
    assert seen == ["m%d" % i for i in range(10)]
    # New events show up behind a forward token.
    put(logs, "g", "s", ["late"], ts=t + 100)
    p = logs.get_log_events(logGroupName="g", logStreamName="s", nextToken=tok, startFromHead=True)
    assert [e["message"] for e in p["events"]] == ["late"]
    # Time range: startTime inclusive, endTime exclusive.
    r = logs.get_log_events(logGroupName="g", logStreamName="s", startTime=t + 2, endTime=t + 5, startFromHead=True)
    assert [e["message"] for e in r["events"]] == ["m2", "m3", "m4"]
    with pytest.raises(ClientError) as e:
        logs.get_log_events(logGroupName="g", logStreamName="s", nextToken="f/123")
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        logs.get_log_events(logGroupName="g", logStreamName="nope")
    assert err(e) == ("ResourceNotFoundException", "The specified log stream does not exist.")
    if NEW:
        arn = "arn:aws:logs:us-east-1:000000000000:log-group:g"
        r = logs.get_log_events(logGroupIdentifier=arn, logStreamName="s", limit=1)
        assert [e["message"] for e in r["events"]] == ["late"]


def test_get_log_events_empty_stream(logs):
    mk(logs)
    r = logs.get_log_events(logGroupName="g", logStreamName="s")
    assert r["events"] == [] and r["nextForwardToken"] and r["nextBackwardToken"]
    put(logs, "g", "s", ["first"])
    p = logs.get_log_events(logGroupName="g", logStreamName="s", nextToken=r["nextForwardToken"])
    assert [e["message"] for e in p["events"]] == ["first"]


# ---- FilterLogEvents ------------------------------------------------------------------------


def test_filter_log_events_streams_time_pagination(logs):
    mk(logs, "g", ["s1", "s2", "other"])
    t = now_ms() - 60000
    logs.put_log_events(logGroupName="g", logStreamName="s1",
                        logEvents=[{"timestamp": t + i * 2, "message": "one %d" % i} for i in range(5)])
    logs.put_log_events(logGroupName="g", logStreamName="s2",
                        logEvents=[{"timestamp": t + i * 2 + 1, "message": "two %d" % i} for i in range(5)])
    logs.put_log_events(logGroupName="g", logStreamName="other",
                        logEvents=[{"timestamp": t, "message": "other"}])
    r = logs.filter_log_events(logGroupName="g", logStreamNames=["s1", "s2"])
    assert [e["message"] for e in r["events"]] == ["one 0", "two 0", "one 1", "two 1", "one 2", "two 2",
                                                  "one 3", "two 3", "one 4", "two 4"]
    assert r["events"][0]["logStreamName"] == "s1" and r["events"][0]["eventId"]
    assert "nextToken" not in r
    r = logs.filter_log_events(logGroupName="g", logStreamNamePrefix="s")
    assert len(r["events"]) == 10
    r = logs.filter_log_events(logGroupName="g", startTime=t + 2, endTime=t + 4)
    assert [e["message"] for e in r["events"]] == ["one 1", "two 1", "one 2"]   # endTime inclusive
    got, tok = [], None
    while True:
        kw = {"logGroupName": "g", "limit": 3}
        if tok:
            kw["nextToken"] = tok
        p = logs.filter_log_events(**kw)
        assert len(p["events"]) <= 3
        got += [e["message"] for e in p["events"]]
        tok = p.get("nextToken")
        if not tok:
            break
    assert len(got) == 11 and got[0] in ("one 0", "other")
    with pytest.raises(ClientError) as e:
        logs.filter_log_events(logGroupName="g", logStreamNames=["s1"], logStreamNamePrefix="s")
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        logs.filter_log_events(logGroupName="nope")
    assert err(e) == ("ResourceNotFoundException", "The specified log group does not exist.")
    # The paginator walks every page.
    pages = logs.get_paginator("filter_log_events").paginate(logGroupName="g", PaginationConfig={"PageSize": 4})
    assert sum(len(p["events"]) for p in pages) == 11


MESSAGES = [
    "ERROR disk full on /dev/sda",
    "WARN disk at 90%",
    "INFO all good",
    "ERROR Exception in thread main",
    '{"eventType": "UpdateTrail", "user": {"id": 2, "name": "ann"}, "latency": 150, "ok": true,'
    ' "tags": ["a", "b"], "gone": null, "ip": "10.0.0.7"}',
    '{"eventType": "CreateTrail", "user": {"id": 3, "name": "bob"}, "latency": 50, "ok": false, "tags": []}',
    '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 404 2326',
    '127.0.0.2 - ann [10/Oct/2000:13:56:00 -0700] "GET /index.html HTTP/1.0" 200 512',
]


@pytest.mark.parametrize("pattern,want", [
    ("", list(range(8))),
    ("ERROR", [0, 3]),
    ("ERROR disk", [0]),
    ('"disk full"', [0]),
    ("ERROR -Exception", [0]),
    ("?WARN ?INFO", [1, 2]),
    ("%ERR[O]R +Ex%", [3]),
    ('{ $.eventType = "UpdateTrail" }', [4]),
    ("{ $.eventType = *Trail }", [4, 5]),
    ("{ $.eventType != UpdateTrail }", [5]),
    ("{ $.user.id = 2 }", [4]),
    ("{ $.latency > 100 }", [4]),
    ("{ $.latency <= 50 }", [5]),
    ("{ ($.user.id = 3 && $.latency < 100) || $.user.name = ann }", [4, 5]),
    ("{ $.ok IS TRUE }", [4]),
    ("{ $.ok IS FALSE }", [5]),
    ("{ $.gone IS NULL }", [4]),
    ("{ $.gone NOT EXISTS }", [5]),
    ('{ $.tags[0] = "a" }', [4]),
    ("{ $.ip = 10.0.0.* }", [4]),
    ("{ $.eventType = %^Up% }", [4]),
    ("[ip, user, username, timestamp, request, status_code, bytes]", [6, 7]),
    ("[ip, user, username, timestamp, request, status_code = 4*, bytes]", [6]),
    ("[..., status_code = 200, bytes]", [7]),
    ("[ip = 127.0.0.1, ...]", [6]),
    ("[ip, user, username = ann, ..., bytes > 1000]", []),
    ("[ip, user, username, timestamp, request = *index*, status_code, bytes < 1000]", [7]),
    ("[ip, ..., status_code = 404 || status_code = 200, bytes]", [6, 7]),
])
def test_filter_patterns(logs, pattern, want):
    mk(logs)
    put(logs, "g", "s", MESSAGES, ts=now_ms() - 60000)
    r = logs.filter_log_events(logGroupName="g", filterPattern=pattern)
    assert [MESSAGES.index(e["message"]) for e in r["events"]] == want


@pytest.mark.parametrize("pattern", ['""', '{ $.a = 1', "[a, b", "{ $.a > abc }", "{ a = 1 }",
                                     "%a(b)%", "%a% %b% %c%", "{ $.a = 1 && }", "[a, b = ]", '"unterminated'])
def test_filter_bad_patterns(logs, pattern):
    mk(logs)
    with pytest.raises(ClientError) as e:
        logs.filter_log_events(logGroupName="g", filterPattern=pattern)
    code, msg = err(e)
    assert code == "InvalidParameterException" and msg.startswith("Invalid filter pattern")


# ---- metric and subscription filters --------------------------------------------------------


def test_metric_filters(logs):
    logs.create_log_group(logGroupName="g")
    tr = [{"metricName": "Errors", "metricNamespace": "App", "metricValue": "1", "defaultValue": 0.0}]
    logs.put_metric_filter(logGroupName="g", filterName="errors", filterPattern="ERROR", metricTransformations=tr)
    logs.put_metric_filter(logGroupName="g", filterName="lat", filterPattern="{ $.latency > 0 }",
                           metricTransformations=[{"metricName": "Latency", "metricNamespace": "App",
                                                   "metricValue": "$.latency", "unit": "Milliseconds"}])
    assert logs.describe_log_groups()["logGroups"][0]["metricFilterCount"] == 2
    f = logs.describe_metric_filters(logGroupName="g")["metricFilters"]
    assert [x["filterName"] for x in f] == ["errors", "lat"]
    assert f[0]["filterPattern"] == "ERROR" and f[0]["logGroupName"] == "g"
    assert f[0]["metricTransformations"] == tr and f[0]["creationTime"] > 0
    assert f[1]["metricTransformations"][0]["unit"] == "Milliseconds"
    r = logs.describe_metric_filters(metricName="Latency", metricNamespace="App")["metricFilters"]
    assert [x["filterName"] for x in r] == ["lat"]
    r = logs.describe_metric_filters(logGroupName="g", filterNamePrefix="er")["metricFilters"]
    assert [x["filterName"] for x in r] == ["errors"]
    # Put again updates in place.
    logs.put_metric_filter(logGroupName="g", filterName="errors", filterPattern="?ERROR ?FATAL",
                           metricTransformations=tr)
    assert logs.describe_metric_filters(logGroupName="g")["metricFilters"][0]["filterPattern"] == "?ERROR ?FATAL"
    with pytest.raises(ClientError) as e:
        logs.put_metric_filter(logGroupName="g", filterName="bad", filterPattern="{ $.a = ",
                               metricTransformations=tr)
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as e:
        logs.put_metric_filter(logGroupName="nope", filterName="x", filterPattern="", metricTransformations=tr)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    logs.delete_metric_filter(logGroupName="g", filterName="errors")
    with pytest.raises(ClientError) as e:
        logs.delete_metric_filter(logGroupName="g", filterName="errors")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert logs.describe_log_groups()["logGroups"][0]["metricFilterCount"] == 1


def test_metric_filter_limit(logs):
    logs.create_log_group(logGroupName="g")
    tr = [{"metricName": "M", "metricNamespace": "N", "metricValue": "1"}]
    for i in range(100):
        logs.put_metric_filter(logGroupName="g", filterName="f%03d" % i, filterPattern="x",
                               metricTransformations=tr)
    with pytest.raises(ClientError) as e:
        logs.put_metric_filter(logGroupName="g", filterName="one-more", filterPattern="x", metricTransformations=tr)
    assert e.value.response["Error"]["Code"] == "LimitExceededException"
    p1 = logs.describe_metric_filters(logGroupName="g")
    assert len(p1["metricFilters"]) == 50 and p1["nextToken"]
    p2 = logs.describe_metric_filters(logGroupName="g", nextToken=p1["nextToken"])
    assert p2["metricFilters"][0]["filterName"] == "f050"


def test_test_metric_filter(logs):
    r = logs.test_metric_filter(filterPattern="[ip, user, username, timestamp, request, status_code = 4*, bytes]",
                                logEventMessages=MESSAGES[6:] + ["short line"])
    assert len(r["matches"]) == 1
    m = r["matches"][0]
    assert m["eventNumber"] == 1 and m["eventMessage"] == MESSAGES[6]
    assert m["extractedValues"] == {"$ip": "127.0.0.1", "$user": "-", "$username": "frank",
                                    "$timestamp": "10/Oct/2000:13:55:36 -0700",
                                    "$request": "GET /apache_pb.gif HTTP/1.0", "$status_code": "404",
                                    "$bytes": "2326"}
    r = logs.test_metric_filter(filterPattern="ERROR", logEventMessages=MESSAGES[:4])
    assert [m["eventNumber"] for m in r["matches"]] == [1, 4]
    with pytest.raises(ClientError) as e:
        logs.test_metric_filter(filterPattern="[a,", logEventMessages=["x"])
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"


def test_subscription_filters(logs):
    logs.create_log_group(logGroupName="g")
    dest = "arn:aws:lambda:us-east-1:000000000000:function:f"
    logs.put_subscription_filter(logGroupName="g", filterName="a", filterPattern="ERROR", destinationArn=dest)
    logs.put_subscription_filter(logGroupName="g", filterName="b", filterPattern="", destinationArn=dest,
                                 roleArn="arn:aws:iam::000000000000:role/r", distribution="Random")
    with pytest.raises(ClientError) as e:
        logs.put_subscription_filter(logGroupName="g", filterName="c", filterPattern="", destinationArn=dest)
    assert err(e) == ("LimitExceededException", "Resource limit exceeded.")
    logs.put_subscription_filter(logGroupName="g", filterName="a", filterPattern="WARN", destinationArn=dest)
    f = logs.describe_subscription_filters(logGroupName="g")["subscriptionFilters"]
    assert [x["filterName"] for x in f] == ["a", "b"]
    assert f[0]["filterPattern"] == "WARN" and f[0]["destinationArn"] == dest
    assert f[0]["distribution"] == "ByLogStream" and f[0]["logGroupName"] == "g"
    assert f[1]["roleArn"] == "arn:aws:iam::000000000000:role/r" and f[1]["distribution"] == "Random"
    assert [x["filterName"] for x in logs.describe_subscription_filters(
        logGroupName="g", filterNamePrefix="b")["subscriptionFilters"]] == ["b"]
    with pytest.raises(ClientError) as e:
        logs.put_subscription_filter(logGroupName="g", filterName="a", filterPattern="[x", destinationArn=dest)
    assert e.value.response["Error"]["Code"] == "InvalidParameterException"
    logs.delete_subscription_filter(logGroupName="g", filterName="a")
    with pytest.raises(ClientError) as e:
        logs.delete_subscription_filter(logGroupName="g", filterName="a")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        logs.describe_subscription_filters(logGroupName="nope")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_unimplemented_operation_is_unknown(logs):
    with pytest.raises(ClientError) as e:
        logs.start_query(logGroupName="g", startTime=0, endTime=1, queryString="fields @message")
    assert e.value.response["Error"]["Code"] == "UnknownOperationException"


# ---- the AWS CLI ----------------------------------------------------------------------------------


def test_cli_basics(aws):
    aws("logs", "create-log-group", "--log-group-name", "/cli/app")
    aws("logs", "create-log-stream", "--log-group-name", "/cli/app", "--log-stream-name", "web")
    t = now_ms()
    events = [{"timestamp": t + i, "message": m} for i, m in enumerate(["GET / 200", "GET /x 404", "POST / 500"])]
    aws("logs", "put-log-events", "--log-group-name", "/cli/app", "--log-stream-name", "web",
        "--log-events", json.dumps(events))
    r = aws("logs", "filter-log-events", "--log-group-name", "/cli/app", "--filter-pattern", "?404 ?500")
    assert [e["message"] for e in r["events"]] == ["GET /x 404", "POST / 500"]
    r = aws("logs", "filter-log-events", "--log-group-name", "/cli/app", "--filter-pattern", "[method, path, code >= 400]",
            "--page-size", "1")
    assert len(r["events"]) == 2
    r = aws("logs", "describe-log-groups", "--log-group-name-prefix", "/cli")
    assert r["logGroups"][0]["logGroupName"] == "/cli/app"
    r = aws("logs", "get-log-events", "--log-group-name", "/cli/app", "--log-stream-name", "web", "--start-from-head")
    assert [e["message"] for e in r["events"]] == ["GET / 200", "GET /x 404", "POST / 500"]
    aws("logs", "put-retention-policy", "--log-group-name", "/cli/app", "--retention-in-days", "7")
    assert aws("logs", "describe-log-groups")["logGroups"][0]["retentionInDays"] == 7

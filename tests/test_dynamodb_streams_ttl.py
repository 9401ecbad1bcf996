"""DynamoDB Streams (ListStreams, DescribeStream, GetShardIterator of every
type, GetRecords per StreamViewType), TTL (settings and the background
sweep, whose deletions appear on the stream as service REMOVEs), and
durability across kill -9.  Both boto3 generations."""
import time

import pytest

from ddb_util import N, S, create_table, expect_error, validation, wait_for

SERVICE = {"Type": "Service", "PrincipalId": "dynamodb.amazonaws.com"}


def shard_records(streams, arn, itype="TRIM_HORIZON", seq=None):
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    kw = {"SequenceNumber": seq} if seq else {}
    it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType=itype, **kw)["ShardIterator"]
    return read_all(streams, it)


def read_all(streams, it, polls=3):
    """Records from iterator it until a few reads come back empty."""
    out, empty = [], 0
    while it and empty < polls:
        r = streams.get_records(ShardIterator=it)
        out += r["Records"]
        empty = empty + 1 if not r["Records"] else 0
        it = r.get("NextShardIterator")
    return out


def churn(ddb, table):
    ddb.put_item(TableName=table, Item={"pk": S("a"), "v": N(1)})
    ddb.update_item(TableName=table, Key={"pk": S("a")}, UpdateExpression="SET v = :v, w = :w",
                    ExpressionAttributeValues={":v": N(2), ":w": S("x")})
    ddb.put_item(TableName=table, Item={"pk": S("b")})
    ddb.delete_item(TableName=table, Key={"pk": S("a")})


@pytest.mark.parametrize("view", ["NEW_AND_OLD_IMAGES", "NEW_IMAGE", "OLD_IMAGE", "KEYS_ONLY"])
def test_records_per_view_type(ddb, ddb_streams, view):
    arn = create_table(ddb, "strm", stream=view)["LatestStreamArn"]
    churn(ddb, "strm")
    recs = shard_records(ddb_streams, arn)
    assert [r["eventName"] for r in recs] == ["INSERT", "MODIFY", "INSERT", "REMOVE"]
    for r in recs:
        assert r["eventSource"] == "aws:dynamodb" and r["eventVersion"] == "1.1"
        assert r["awsRegion"] == "us-east-1" and r["eventID"]
        assert r["dynamodb"]["StreamViewType"] == view
        assert r["dynamodb"]["SizeBytes"] > 0
        assert "userIdentity" not in r
    assert [r["dynamodb"]["Keys"] for r in recs] == [{"pk": S("a")}, {"pk": S("a")}, {"pk": S("b")}, {"pk": S("a")}]
    seqs = [int(r["dynamodb"]["SequenceNumber"]) for r in recs]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    new = view in ("NEW_AND_OLD_IMAGES", "NEW_IMAGE")
    old = view in ("NEW_AND_OLD_IMAGES", "OLD_IMAGE")
    images = [(r["dynamodb"].get("OldImage"), r["dynamodb"].get("NewImage")) for r in recs]
    v1, v2 = {"pk": S("a"), "v": N(1)}, {"pk": S("a"), "v": N(2), "w": S("x")}
    assert images == [(None, v1 if new else None), (v1 if old else None, v2 if new else None),
                      (None, {"pk": S("b")} if new else None), (v2 if old else None, None)]


def test_list_describe_and_iterators(ddb, ddb_streams):
    d = create_table(ddb, "st2", range_key=("sk", "N"), stream="NEW_IMAGE")
    arn = d["LatestStreamArn"]
    create_table(ddb, "st3", stream="KEYS_ONLY")
    create_table(ddb, "nostream")
    streams = ddb_streams.list_streams()["Streams"]
    assert sorted(s["TableName"] for s in streams) == ["st2", "st3"]
    only = ddb_streams.list_streams(TableName="st2")["Streams"]
    assert only == [{"StreamArn": arn, "TableName": "st2", "StreamLabel": d["LatestStreamLabel"]}]
    page = ddb_streams.list_streams(Limit=1)
    assert len(page["Streams"]) == 1 and "LastEvaluatedStreamArn" in page
    rest = ddb_streams.list_streams(ExclusiveStartStreamArn=page["LastEvaluatedStreamArn"])["Streams"]
    assert len(rest) == 1 and rest[0]["StreamArn"] != page["Streams"][0]["StreamArn"]
    desc = ddb_streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert desc["StreamArn"] == arn and desc["StreamStatus"] == "ENABLED"
    assert desc["StreamViewType"] == "NEW_IMAGE" and desc["TableName"] == "st2"
    assert desc["StreamLabel"] == d["LatestStreamLabel"]
    assert desc["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
    assert len(desc["Shards"]) >= 1
    shard = desc["Shards"][0]["ShardId"]
    assert shard.startswith("shardId-")
    for i in range(4):
        ddb.put_item(TableName="st2", Item={"pk": S("p"), "sk": N(i)})
    recs = shard_records(ddb_streams, arn)
    seqs = [r["dynamodb"]["SequenceNumber"] for r in recs]
    assert [r["dynamodb"]["Keys"]["sk"] for r in recs] == [N(i) for i in range(4)]
    # AT / AFTER a sequence number.
    at = shard_records(ddb_streams, arn, "AT_SEQUENCE_NUMBER", seqs[1])
    assert [r["dynamodb"]["SequenceNumber"] for r in at] == seqs[1:]
    after = shard_records(ddb_streams, arn, "AFTER_SEQUENCE_NUMBER", seqs[1])
    assert [r["dynamodb"]["SequenceNumber"] for r in after] == seqs[2:]
    # LATEST sees only later records.
    it = ddb_streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]
    r = ddb_streams.get_records(ShardIterator=it)
    assert r["Records"] == []
    ddb.put_item(TableName="st2", Item={"pk": S("late"), "sk": N(0)})
    later = read_all(ddb_streams, r["NextShardIterator"])
    assert [x["dynamodb"]["Keys"]["pk"] for x in later] == [S("late")]
    # Limit.
    it = ddb_streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    r = ddb_streams.get_records(ShardIterator=it, Limit=2)
    assert len(r["Records"]) == 2
    assert [x["dynamodb"]["SequenceNumber"] for x in read_all(ddb_streams, r["NextShardIterator"])] == \
        seqs[2:] + [later[0]["dynamodb"]["SequenceNumber"]]


def test_stream_errors(ddb, ddb_streams):
    arn = create_table(ddb, "st4", stream="KEYS_ONLY")["LatestStreamArn"]
    shard = ddb_streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    bad = arn.rsplit("/", 1)[0] + "/2000-01-01T00:00:00.000"
    expect_error(lambda: ddb_streams.describe_stream(StreamArn=bad), "ResourceNotFoundException")
    expect_error(lambda: ddb_streams.get_shard_iterator(StreamArn=arn, ShardId="shardId-00000000000000000000-deadbeef",
                                                        ShardIteratorType="LATEST"), "ResourceNotFoundException")
    validation(lambda: ddb_streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                                      ShardIteratorType="AT_SEQUENCE_NUMBER"))
    validation(lambda: ddb_streams.get_records(ShardIterator="x" * 40))


def test_no_record_for_unchanged_item(ddb, ddb_streams):
    arn = create_table(ddb, "st5", stream="NEW_AND_OLD_IMAGES")["LatestStreamArn"]
    ddb.put_item(TableName="st5", Item={"pk": S("a"), "v": N(1)})
    ddb.put_item(TableName="st5", Item={"pk": S("a"), "v": N("1.0")})  # same item
    ddb.update_item(TableName="st5", Key={"pk": S("a")}, UpdateExpression="SET v = :v",
                    ExpressionAttributeValues={":v": N(1)})
    ddb.delete_item(TableName="st5", Key={"pk": S("nothing")})
    ddb.update_item(TableName="st5", Key={"pk": S("a")}, UpdateExpression="SET v = :v",
                    ExpressionAttributeValues={":v": N(3)})
    recs = shard_records(ddb_streams, arn)
    assert [r["eventName"] for r in recs] == ["INSERT", "MODIFY"]
    assert recs[1]["dynamodb"]["NewImage"]["v"] == N(3)


def test_batch_and_transaction_records(ddb, ddb_streams):
    arn = create_table(ddb, "st6", stream="NEW_IMAGE")["LatestStreamArn"]
    ddb.batch_write_item(RequestItems={"st6": [{"PutRequest": {"Item": {"pk": S("b%d" % i)}}} for i in range(3)]})
    ddb.transact_write_items(TransactItems=[
        {"Delete": {"TableName": "st6", "Key": {"pk": S("b0")}}},
        {"Put": {"TableName": "st6", "Item": {"pk": S("t")}}}])
    recs = shard_records(ddb_streams, arn)
    assert sorted((r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in recs) == [
        ("INSERT", "b0"), ("INSERT", "b1"), ("INSERT", "b2"), ("INSERT", "t"), ("REMOVE", "b0")]


def test_stream_disable_and_reenable(ddb, ddb_streams):
    arn = create_table(ddb, "st7", stream="KEYS_ONLY")["LatestStreamArn"]
    ddb.put_item(TableName="st7", Item={"pk": S("one")})
    ddb.update_table(TableName="st7", StreamSpecification={"StreamEnabled": False})
    desc = ddb_streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert desc["StreamStatus"] in ("DISABLING", "DISABLED")
    ddb.put_item(TableName="st7", Item={"pk": S("two")})
    assert [r["dynamodb"]["Keys"]["pk"] for r in shard_records(ddb_streams, arn)] == [S("one")]
    # Re-enabling makes a new stream with a new label.
    time.sleep(0.002)
    d = ddb.update_table(TableName="st7", StreamSpecification={"StreamEnabled": True,
                                                               "StreamViewType": "NEW_IMAGE"})["TableDescription"]
    arn2 = d["LatestStreamArn"]
    assert arn2 != arn
    ddb.put_item(TableName="st7", Item={"pk": S("three")})
    recs = shard_records(ddb_streams, arn2)
    assert [r["dynamodb"]["Keys"]["pk"] for r in recs] == [S("three")]
    assert len(ddb_streams.list_streams(TableName="st7")["Streams"]) == 2


def test_ttl_settings(ddb):
    create_table(ddb, "ttl1")
    assert ddb.describe_time_to_live(TableName="ttl1")["TimeToLiveDescription"] == {"TimeToLiveStatus": "DISABLED"}
    r = ddb.update_time_to_live(TableName="ttl1", TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    assert r["TimeToLiveSpecification"] == {"Enabled": True, "AttributeName": "exp"}
    d = ddb.describe_time_to_live(TableName="ttl1")["TimeToLiveDescription"]
    assert d["TimeToLiveStatus"] in ("ENABLING", "ENABLED") and d["AttributeName"] == "exp"
    validation(lambda: ddb.update_time_to_live(TableName="ttl1", TimeToLiveSpecification={
        "Enabled": True, "AttributeName": "other"}),
        "TimeToLive is active on a different AttributeName: current AttributeName is exp")
    ddb.update_time_to_live(TableName="ttl1", TimeToLiveSpecification={"Enabled": False, "AttributeName": "exp"})
    d = ddb.describe_time_to_live(TableName="ttl1")["TimeToLiveDescription"]
    assert d["TimeToLiveStatus"] in ("DISABLING", "DISABLED")
    expect_error(lambda: ddb.describe_time_to_live(TableName="nope"), "ResourceNotFoundException")


def test_ttl_sweep_deletes_expired_items_with_service_remove(ddb, ddb_streams):
    arn = create_table(ddb, "ttl2", stream="NEW_AND_OLD_IMAGES")["LatestStreamArn"]
    ddb.update_time_to_live(TableName="ttl2", TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    now = int(time.time())
    items = {"past": N(now - 100), "ancient": N(1000), "future": N(now + 3600), "str": S(str(now - 100)),
             "frac": N("%d.5" % (now - 50))}
    for k, v in items.items():
        ddb.put_item(TableName="ttl2", Item={"pk": S(k), "exp": v, "data": S("d")})
    ddb.put_item(TableName="ttl2", Item={"pk": S("none"), "data": S("d")})
    # An expiry more than five years in the past is ignored by AWS's TTL.
    gone = {"past", "frac"}

    def swept():
        left = {i["pk"]["S"] for i in ddb.scan(TableName="ttl2", ConsistentRead=True)["Items"]}
        return left if not (left & gone) else None
    left = wait_for(swept, timeout=10, interval=0.2)
    assert left == {"ancient", "future", "str", "none"}
    recs = shard_records(ddb_streams, arn)
    removes = [r for r in recs if r["eventName"] == "REMOVE"]
    assert sorted(r["dynamodb"]["Keys"]["pk"]["S"] for r in removes) == ["frac", "past"]
    for r in removes:
        assert r["userIdentity"] == SERVICE
        assert r["dynamodb"]["OldImage"]["data"] == S("d") and "NewImage" not in r["dynamodb"]
    # A user's delete carries no userIdentity.
    ddb.delete_item(TableName="ttl2", Key={"pk": S("future")})
    last = shard_records(ddb_streams, arn)[-1]
    assert last["eventName"] == "REMOVE" and "userIdentity" not in last
    # Updating an item into the past makes the sweep take it too.
    ddb.update_item(TableName="ttl2", Key={"pk": S("none")}, UpdateExpression="SET exp = :e",
                    ExpressionAttributeValues={":e": N(now - 1)})
    wait_for(lambda: "Item" not in ddb.get_item(TableName="ttl2", Key={"pk": S("none")}), timeout=10, interval=0.2)


def test_durability_across_kill9(nimbus_fresh):
    n = nimbus_fresh(durable=True)
    ddb, streams = n.client("dynamodb"), n.client("dynamodbstreams")
    d = create_table(ddb, "durable", range_key=("sk", "N"), stream="NEW_AND_OLD_IMAGES",
                     gsis=[{"name": "by-g", "hash": ("g", "S")}], Tags=[{"Key": "k", "Value": "v"}])
    ddb.update_time_to_live(TableName="durable", TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    for i in range(5):
        ddb.put_item(TableName="durable", Item={"pk": S("p"), "sk": N(i), "g": S("G%d" % (i % 2)),
                                                "n": N("3.14159265358979323846264338327950288")})
    ddb.delete_item(TableName="durable", Key={"pk": S("p"), "sk": N(4)})
    before = shard_records(streams, d["LatestStreamArn"])
    assert len(before) == 6
    assert n.kill9() == -9
    n.start(n.port)
    t = ddb.describe_table(TableName="durable")["Table"]
    assert t["TableId"] == d["TableId"] and t["LatestStreamArn"] == d["LatestStreamArn"]
    assert [g["IndexName"] for g in t["GlobalSecondaryIndexes"]] == ["by-g"]
    r = ddb.query(TableName="durable", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("p")})
    assert [int(i["sk"]["N"]) for i in r["Items"]] == [0, 1, 2, 3]
    assert r["Items"][0]["n"] == N("3.14159265358979323846264338327950288")
    r = ddb.query(TableName="durable", IndexName="by-g", KeyConditionExpression="g = :g",
                  ExpressionAttributeValues={":g": S("G0")})
    assert sorted(int(i["sk"]["N"]) for i in r["Items"]) == [0, 2]
    assert ddb.describe_time_to_live(TableName="durable")["TimeToLiveDescription"]["AttributeName"] == "exp"
    assert ddb.list_tags_of_resource(ResourceArn=t["TableArn"])["Tags"] == [{"Key": "k", "Value": "v"}]
    after = shard_records(streams, d["LatestStreamArn"])
    assert after == before
    # Sequence numbers keep increasing after the restart.
    ddb.put_item(TableName="durable", Item={"pk": S("q"), "sk": N(0)})
    recs = shard_records(streams, d["LatestStreamArn"])
    assert len(recs) == 7
    assert int(recs[-1]["dynamodb"]["SequenceNumber"]) > int(before[-1]["dynamodb"]["SequenceNumber"])
    # And a clean restart too.
    n.restart()
    assert ddb.scan(TableName="durable", Select="COUNT")["Count"] == 5

"""EventBridge schedules end to end: a rate(1 minute) rule fires its first
"Scheduled Event" one minute after it was created.  This test waits for
it (up to ~75 s); next-fire computation for rate and cron (L, W, #,
ranges, names, years) is covered quickly by tests/unit/test_events_sched.c.
Deselect with -k 'not schedule' when iterating."""
import json
import time

from test_events import ACCOUNT, REGION, queue


def test_rate_one_minute_fires_scheduled_event(events, sqs):
    url, arn = queue(sqs, "sched")
    rarn = events.put_rule(Name="every-minute", ScheduleExpression="rate(1 minute)")["RuleArn"]
    events.put_targets(Rule="every-minute", Targets=[{"Id": "q", "Arn": arn}])
    created = time.time()
    msgs = []
    while not msgs and time.time() < created + 75:
        msgs = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5).get("Messages", [])
    assert msgs, "the schedule did not fire within 75 s"
    fired = time.time() - created
    assert 55 <= fired <= 75, fired
    body = json.loads(msgs[0]["Body"])
    assert body["source"] == "aws.events" and body["detail-type"] == "Scheduled Event"
    assert body["detail"] == {} and body["resources"] == [rarn]
    assert body["account"] == ACCOUNT and body["region"] == REGION
    assert body["time"].endswith("Z") and len(body["time"]) == 20

"""DynamoDB backups and restores, point-in-time recovery settings and
restore, and the rest of the control plane's settings operations."""
import pytest
from botocore.exceptions import ClientError

from conftest import BOTO_GEN

KS = [{"AttributeName": "pk", "KeyType": "HASH"}]
AD = [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "g", "AttributeType": "S"}]
GSI = [{"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "ALL"}}]


def make_source(ddb):
    ddb.create_table(TableName="src1", KeySchema=KS, AttributeDefinitions=AD, BillingMode="PAY_PER_REQUEST",
                     GlobalSecondaryIndexes=GSI)
    for i in range(5):
        ddb.put_item(TableName="src1", Item={"pk": {"S": str(i)}, "g": {"S": "x"}})


def test_backup_restore_round_trip(ddb):
    make_source(ddb)
    b = ddb.create_backup(TableName="src1", BackupName="bk1")["BackupDetails"]
    assert b["BackupStatus"] == "AVAILABLE" and b["BackupType"] == "USER"
    assert b["BackupArn"].startswith("arn:aws:dynamodb:us-east-1:000000000000:table/src1/backup/")
    src = ddb.describe_backup(BackupArn=b["BackupArn"])["BackupDescription"]["SourceTableDetails"]
    assert src["ItemCount"] == 5 and src["TableName"] == "src1"
    assert [x["BackupName"] for x in ddb.list_backups(TableName="src1")["BackupSummaries"]] == ["bk1"]
    # Later writes do not reach the snapshot.
    ddb.put_item(TableName="src1", Item={"pk": {"S": "late"}, "g": {"S": "x"}})
    r = ddb.restore_table_from_backup(TargetTableName="dst1", BackupArn=b["BackupArn"])["TableDescription"]
    assert r["RestoreSummary"]["SourceBackupArn"] == b["BackupArn"]
    assert ddb.scan(TableName="dst1")["Count"] == 5
    q = ddb.query(TableName="dst1", IndexName="by-g", KeyConditionExpression="g = :g",
                  ExpressionAttributeValues={":g": {"S": "x"}})
    assert q["Count"] == 5
    with pytest.raises(ClientError) as e:
        ddb.restore_table_from_backup(TargetTableName="dst1", BackupArn=b["BackupArn"])
    assert e.value.response["Error"]["Code"] == "TableAlreadyExistsException"
    d = ddb.delete_backup(BackupArn=b["BackupArn"])["BackupDescription"]["BackupDetails"]
    assert d["BackupStatus"] == "DELETED"
    with pytest.raises(ClientError) as e:
        ddb.describe_backup(BackupArn=b["BackupArn"])
    assert e.value.response["Error"]["Code"] == "BackupNotFoundException"


def test_point_in_time_restore_needs_pitr(ddb):
    make_source(ddb)
    with pytest.raises(ClientError) as e:
        ddb.restore_table_to_point_in_time(SourceTableName="src1", TargetTableName="dst2",
                                           UseLatestRestorableTime=True)
    assert e.value.response["Error"]["Code"] == "PointInTimeRecoveryUnavailableException"
    ddb.update_continuous_backups(TableName="src1",
                                  PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    pitr = ddb.describe_continuous_backups(TableName="src1")["ContinuousBackupsDescription"]
    assert pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    ddb.restore_table_to_point_in_time(SourceTableName="src1", TargetTableName="dst2",
                                       UseLatestRestorableTime=True)
    assert ddb.scan(TableName="dst2")["Count"] == 5


@pytest.mark.skipif(BOTO_GEN != "new", reason="resource policies are not in botocore 1.29's model")
def test_resource_policy_and_settings(ddb):
    make_source(ddb)
    arn = ddb.describe_table(TableName="src1")["Table"]["TableArn"]
    with pytest.raises(ClientError) as e:
        ddb.get_resource_policy(ResourceArn=arn)
    assert e.value.response["Error"]["Code"] == "PolicyNotFoundException"
    rev = ddb.put_resource_policy(ResourceArn=arn, Policy='{"Version":"2012-10-17","Statement":[]}')["RevisionId"]
    got = ddb.get_resource_policy(ResourceArn=arn)
    assert got["RevisionId"] == rev and got["Policy"] == '{"Version":"2012-10-17","Statement":[]}'
    ddb.delete_resource_policy(ResourceArn=arn)
    ddb.update_contributor_insights(TableName="src1", ContributorInsightsAction="ENABLE")
    assert ddb.describe_contributor_insights(TableName="src1")["ContributorInsightsStatus"] == "ENABLED"
    e = ddb.export_table_to_point_in_time  # needs PITR first
    with pytest.raises(ClientError) as err:
        e(TableArn=arn, S3Bucket="missing")
    assert err.value.response["Error"]["Code"] == "PointInTimeRecoveryUnavailableException"
    ddb.update_continuous_backups(TableName="src1",
                                  PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    x = e(TableArn=arn, S3Bucket="missing")["ExportDescription"]
    assert x["ExportStatus"] == "IN_PROGRESS"
    assert ddb.describe_export(ExportArn=x["ExportArn"])["ExportDescription"]["FailureCode"] == "S3NoSuchBucket"

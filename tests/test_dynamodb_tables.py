"""DynamoDB control plane: CreateTable validation, DescribeTable, waiters,
UpdateTable (GSIs with backfill, streams, billing mode), ListTables
pagination, DeleteTable, tags.  Both boto3 generations."""
import datetime
import re
import uuid

import pytest

from conftest import BOTO_GEN

from ddb_util import (N, S, create_table, expect_error, raw_client, validation, wait_for)

KS = [{"AttributeName": "pk", "KeyType": "HASH"}]
AD = [{"AttributeName": "pk", "AttributeType": "S"}]


def test_create_table_description_fields(ddb):
    d = create_table(ddb, "fields", range_key=("sk", "N"))
    assert d["TableName"] == "fields"
    assert d["TableStatus"] in ("CREATING", "ACTIVE")
    assert d["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"},
                              {"AttributeName": "sk", "KeyType": "RANGE"}]
    assert sorted(d["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == [
        {"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}]
    assert d["TableArn"] == "arn:aws:dynamodb:us-east-1:000000000000:table/fields"
    uuid.UUID(d["TableId"])
    assert isinstance(d["CreationDateTime"], datetime.datetime)
    assert d["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert d["ItemCount"] == 0 and d["TableSizeBytes"] == 0
    ddb.get_waiter("table_exists").wait(TableName="fields", WaiterConfig={"Delay": 1, "MaxAttempts": 10})
    t = ddb.describe_table(TableName="fields")["Table"]
    assert t["TableStatus"] == "ACTIVE"
    assert t["TableId"] == d["TableId"] and t["TableArn"] == d["TableArn"]
    assert t["ProvisionedThroughput"]["ReadCapacityUnits"] == 0
    assert t["ProvisionedThroughput"]["WriteCapacityUnits"] == 0
    if BOTO_GEN == "new":  # botocore 1.29's model predates deletion protection
        assert t["DeletionProtectionEnabled"] is False
    assert "StreamSpecification" not in t and "LatestStreamArn" not in t
    # ItemCount / TableSizeBytes follow the items (AWS updates them about every
    # six hours; an emulator may be exact, but never negative or inconsistent).
    ddb.put_item(TableName="fields", Item={"pk": S("a"), "sk": N(1), "x": S("hello")})
    t = ddb.describe_table(TableName="fields")["Table"]
    assert t["ItemCount"] in (0, 1)


def test_create_provisioned_table(ddb):
    d = ddb.create_table(TableName="prov", KeySchema=KS, AttributeDefinitions=AD,
                         ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 7})[
        "TableDescription"]
    assert d["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    assert d["ProvisionedThroughput"]["WriteCapacityUnits"] == 7
    assert d.get("BillingModeSummary", {"BillingMode": "PROVISIONED"})["BillingMode"] == "PROVISIONED"


def test_create_table_already_exists(ddb):
    create_table(ddb, "dup")
    expect_error(lambda: create_table(ddb, "dup"), "ResourceInUseException", "Table already exists: dup")


def test_create_table_key_not_defined(ddb):
    validation(lambda: ddb.create_table(
        TableName="tbl1", BillingMode="PAY_PER_REQUEST",
        KeySchema=KS + [{"AttributeName": "sk", "KeyType": "RANGE"}], AttributeDefinitions=AD),
        "Invalid KeySchema: Some index key attribute have no definition")
    # An index key without a definition (AWS's message lists the keys).
    validation(lambda: ddb.create_table(
        TableName="tbl1", BillingMode="PAY_PER_REQUEST", KeySchema=KS, AttributeDefinitions=AD,
        GlobalSecondaryIndexes=[{"IndexName": "gsi", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "ALL"}}]),
        prefix="One or more parameter values were invalid: Some index key attributes are not defined in "
               "AttributeDefinitions.")


def test_create_table_unused_definition(ddb):
    validation(lambda: ddb.create_table(
        TableName="tbl1", BillingMode="PAY_PER_REQUEST", KeySchema=KS,
        AttributeDefinitions=AD + [{"AttributeName": "extra", "AttributeType": "S"}]),
        "One or more parameter values were invalid: Number of attributes in KeySchema does not "
        "exactly match number of attributes defined in AttributeDefinitions")


def test_create_table_key_schema_order_and_duplicates(ddb):
    validation(lambda: ddb.create_table(
        TableName="tbl1", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "RANGE"}], AttributeDefinitions=AD),
        "Invalid KeySchema: The first KeySchemaElement is not a HASH key type")
    validation(lambda: ddb.create_table(
        TableName="tbl1", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "pk", "KeyType": "RANGE"}],
        AttributeDefinitions=AD))


def test_create_table_billing_mode_conflicts(ddb):
    validation(lambda: ddb.create_table(
        TableName="tbl1", BillingMode="PAY_PER_REQUEST", KeySchema=KS, AttributeDefinitions=AD,
        ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}),
        "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits "
        "can be specified when BillingMode is PAY_PER_REQUEST")


def test_create_table_provisioned_without_throughput(ddb):
    validation(lambda: ddb.create_table(TableName="tbl1", KeySchema=KS, AttributeDefinitions=AD),
               "No provisioned throughput specified for the table")


def test_create_table_name_validation(ddb, nimbus):
    raw = raw_client(nimbus)
    validation(lambda: raw.create_table(TableName="ab", BillingMode="PAY_PER_REQUEST", KeySchema=KS,
                                        AttributeDefinitions=AD),
               "1 validation error detected: Value 'ab' at 'tableName' failed to satisfy constraint: "
               "Member must have length greater than or equal to 3")
    validation(lambda: ddb.create_table(TableName="bad name!", BillingMode="PAY_PER_REQUEST",
                                        KeySchema=KS, AttributeDefinitions=AD),
               "1 validation error detected: Value 'bad name!' at 'tableName' failed to satisfy "
               "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+")
    # 255 characters is the maximum.
    create_table(ddb, "x" * 255)
    assert ddb.describe_table(TableName="x" * 255)["Table"]["TableName"] == "x" * 255


def test_create_table_index_validation(ddb):
    lsi_no_range = dict(TableName="tbl1", BillingMode="PAY_PER_REQUEST", KeySchema=KS,
                        AttributeDefinitions=AD + [{"AttributeName": "l", "AttributeType": "S"}],
                        LocalSecondaryIndexes=[{"IndexName": "lsi", "KeySchema": [
                            {"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "l", "KeyType": "RANGE"}],
                            "Projection": {"ProjectionType": "ALL"}}])
    validation(lambda: ddb.create_table(**lsi_no_range),
               "One or more parameter values were invalid: Table KeySchema does not have a range key, "
               "which is required when specifying a LocalSecondaryIndex")
    include_without_attrs = dict(
        TableName="tbl1", BillingMode="PAY_PER_REQUEST", KeySchema=KS,
        AttributeDefinitions=AD + [{"AttributeName": "g", "AttributeType": "S"}],
        GlobalSecondaryIndexes=[{"IndexName": "gsi", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                 "Projection": {"ProjectionType": "INCLUDE"}}])
    validation(lambda: ddb.create_table(**include_without_attrs),
               "One or more parameter values were invalid: ProjectionType is INCLUDE, but NonKeyAttributes "
               "is not specified")
    dup = dict(include_without_attrs)
    dup["GlobalSecondaryIndexes"] = [{"IndexName": "gsi", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                      "Projection": {"ProjectionType": "ALL"}}] * 2
    validation(lambda: ddb.create_table(**dup),
               "One or more parameter values were invalid: Duplicate index name: gsi")


def test_describe_missing_table_and_waiters(ddb):
    expect_error(lambda: ddb.describe_table(TableName="nope"), "ResourceNotFoundException",
                 "Requested resource not found: Table: nope not found")
    ddb.get_waiter("table_not_exists").wait(TableName="nope", WaiterConfig={"Delay": 1, "MaxAttempts": 2})
    create_table(ddb, "gone")
    ddb.get_waiter("table_exists").wait(TableName="gone", WaiterConfig={"Delay": 1, "MaxAttempts": 10})
    d = ddb.delete_table(TableName="gone")["TableDescription"]
    assert d["TableName"] == "gone" and d["TableStatus"] in ("DELETING", "ACTIVE")
    ddb.get_waiter("table_not_exists").wait(TableName="gone", WaiterConfig={"Delay": 1, "MaxAttempts": 10})
    expect_error(lambda: ddb.delete_table(TableName="gone"), "ResourceNotFoundException")
    expect_error(lambda: ddb.get_item(TableName="gone", Key={"pk": S("a")}), "ResourceNotFoundException",
                 "Requested resource not found")


def test_table_by_arn(ddb):
    arn = create_table(ddb, "byarn")["TableArn"]
    ddb.put_item(TableName=arn, Item={"pk": S("a")})
    assert ddb.get_item(TableName="byarn", Key={"pk": S("a")})["Item"] == {"pk": S("a")}
    assert ddb.describe_table(TableName=arn)["Table"]["TableName"] == "byarn"


def test_recreate_table_is_empty(ddb):
    create_table(ddb, "again")
    ddb.put_item(TableName="again", Item={"pk": S("a")})
    ddb.delete_table(TableName="again")
    create_table(ddb, "again")
    assert ddb.scan(TableName="again")["Items"] == []


def test_list_tables_pagination(ddb):
    names = ["tbl-%d" % i for i in range(5)]
    for n in reversed(names):
        create_table(ddb, n)
    assert ddb.list_tables()["TableNames"] == names
    seen, kw, pages = [], {"Limit": 2}, 0
    while True:
        r = ddb.list_tables(**kw)
        pages += 1
        assert len(r["TableNames"]) <= 2
        seen += r["TableNames"]
        if "LastEvaluatedTableName" not in r:
            break
        assert r["LastEvaluatedTableName"] == r["TableNames"][-1]
        kw["ExclusiveStartTableName"] = r["LastEvaluatedTableName"]
    assert seen == names and pages == 3
    assert ddb.list_tables(ExclusiveStartTableName="tbl-2")["TableNames"] == ["tbl-3", "tbl-4"]
    paged = [n for p in ddb.get_paginator("list_tables").paginate(PaginationConfig={"PageSize": 2})
             for n in p["TableNames"]]
    assert paged == names


def test_list_tables_limit_range(nimbus, ddb):
    raw = raw_client(nimbus)
    validation(lambda: raw.list_tables(Limit=0),
               "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
               "Member must have value greater than or equal to 1")
    validation(lambda: raw.list_tables(Limit=101),
               "1 validation error detected: Value '101' at 'limit' failed to satisfy constraint: "
               "Member must have value less than or equal to 100")


def test_update_table_gsi_create_backfills_and_delete(ddb):
    create_table(ddb, "upd", range_key=("sk", "N"))
    for i in range(6):
        item = {"pk": S("p%d" % (i % 2)), "sk": N(i), "v": N(i * 10)}
        if i != 5:
            item["g"] = S("even" if i % 2 == 0 else "odd")
        ddb.put_item(TableName="upd", Item=item)
    d = ddb.update_table(TableName="upd", AttributeDefinitions=[{"AttributeName": "g", "AttributeType": "S"}],
                         GlobalSecondaryIndexUpdates=[{"Create": {
                             "IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                             "Projection": {"ProjectionType": "KEYS_ONLY"}}}])["TableDescription"]
    assert [g["IndexName"] for g in d["GlobalSecondaryIndexes"]] == ["by-g"]

    def active():
        t = ddb.describe_table(TableName="upd")["Table"]
        g = t["GlobalSecondaryIndexes"][0]
        return g if g["IndexStatus"] == "ACTIVE" and not g.get("Backfilling") else None
    g = wait_for(active)
    assert g["IndexArn"] == "arn:aws:dynamodb:us-east-1:000000000000:table/upd/index/by-g"
    assert g["KeySchema"] == [{"AttributeName": "g", "KeyType": "HASH"}]
    assert g["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    r = ddb.query(TableName="upd", IndexName="by-g", KeyConditionExpression="g = :g",
                  ExpressionAttributeValues={":g": S("even")})
    assert sorted(int(i["sk"]["N"]) for i in r["Items"]) == [0, 2, 4]
    assert all(set(i) == {"pk", "sk", "g"} for i in r["Items"])
    # Items written later are indexed too; item 5 (no g) never is.
    ddb.put_item(TableName="upd", Item={"pk": S("p9"), "sk": N(9), "g": S("odd")})
    r = ddb.query(TableName="upd", IndexName="by-g", KeyConditionExpression="g = :g",
                  ExpressionAttributeValues={":g": S("odd")})
    assert sorted(int(i["sk"]["N"]) for i in r["Items"]) == [1, 3, 9]
    assert ddb.scan(TableName="upd", IndexName="by-g")["Count"] == 6
    # Delete it.
    ddb.update_table(TableName="upd", GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by-g"}}])

    def deleted():
        return "GlobalSecondaryIndexes" not in ddb.describe_table(TableName="upd")["Table"]
    wait_for(deleted)
    validation(lambda: ddb.query(TableName="upd", IndexName="by-g", KeyConditionExpression="g = :g",
                                 ExpressionAttributeValues={":g": S("odd")}),
               "The table does not have the specified index: by-g")


def test_update_table_gsi_errors(ddb):
    create_table(ddb, "gerr", gsis=[{"name": "idx1", "hash": ("g", "S")}])
    expect_error(lambda: ddb.update_table(TableName="gerr", GlobalSecondaryIndexUpdates=[
        {"Delete": {"IndexName": "nope"}}]), "ResourceNotFoundException")
    validation(lambda: ddb.update_table(
        TableName="gerr", AttributeDefinitions=[{"AttributeName": "g", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[{"Create": {
            "IndexName": "idx1", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"}}}]),
        "One or more parameter values were invalid: Index idx1 already exists on table gerr")
    validation(lambda: ddb.update_table(TableName="gerr"),
               prefix="At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, "
                      "GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required")


def test_update_table_billing_mode_and_stream(ddb):
    create_table(ddb, "bill")
    d = ddb.update_table(TableName="bill", BillingMode="PROVISIONED",
                         ProvisionedThroughput={"ReadCapacityUnits": 3, "WriteCapacityUnits": 4})[
        "TableDescription"]
    assert d["ProvisionedThroughput"]["ReadCapacityUnits"] == 3
    t = wait_for(lambda: (lambda t: t if t["TableStatus"] == "ACTIVE" else None)(
        ddb.describe_table(TableName="bill")["Table"]))
    assert t["BillingModeSummary"]["BillingMode"] == "PROVISIONED"
    assert t["ProvisionedThroughput"]["WriteCapacityUnits"] == 4
    d = ddb.update_table(TableName="bill", StreamSpecification={"StreamEnabled": True,
                                                                "StreamViewType": "NEW_IMAGE"})[
        "TableDescription"]
    assert d["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    arn = d["LatestStreamArn"]
    assert re.fullmatch(r"arn:aws:dynamodb:us-east-1:000000000000:table/bill/stream/\d{4}-\d\d-\d\dT"
                        r"\d\d:\d\d:\d\d\.\d{3}", arn), arn
    assert arn.endswith("/stream/" + d["LatestStreamLabel"])
    validation(lambda: ddb.update_table(TableName="bill", StreamSpecification={
        "StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}),
        "Table already has an enabled stream: TableName: bill")
    ddb.update_table(TableName="bill", StreamSpecification={"StreamEnabled": False})
    t = ddb.describe_table(TableName="bill")["Table"]
    assert t.get("StreamSpecification", {"StreamEnabled": False})["StreamEnabled"] is False
    assert t["LatestStreamArn"] == arn  # the latest stream is still reported after disabling
    ddb.update_table(TableName="bill", BillingMode="PAY_PER_REQUEST")
    t = ddb.describe_table(TableName="bill")["Table"]
    assert t["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"


@pytest.mark.skipif(BOTO_GEN == "old", reason="botocore 1.29 has no DeletionProtectionEnabled")
def test_deletion_protection(ddb):
    create_table(ddb, "prot", DeletionProtectionEnabled=True)
    validation(lambda: ddb.delete_table(TableName="prot"),
               "Resource cannot be deleted as it is currently protected against deletion. "
               "Disable deletion protection first.")
    ddb.update_table(TableName="prot", DeletionProtectionEnabled=False)
    ddb.delete_table(TableName="prot")


def test_tags(ddb):
    arn = create_table(ddb, "tagged", Tags=[{"Key": "env", "Value": "dev"}])["TableArn"]
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "team", "Value": "a"}, {"Key": "env", "Value": "prod"}])
    tags = {t["Key"]: t["Value"] for t in ddb.list_tags_of_resource(ResourceArn=arn)["Tags"]}
    assert tags == {"env": "prod", "team": "a"}
    ddb.untag_resource(ResourceArn=arn, TagKeys=["env", "absent"])
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "a"}]
    expect_error(lambda: ddb.list_tags_of_resource(
        ResourceArn="arn:aws:dynamodb:us-east-1:000000000000:table/nope"), "ResourceNotFoundException")
    validation(lambda: ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "aws:x", "Value": "v"}]),
               "One or more parameter values were invalid: Tag key cannot start with 'aws:'")


def test_describe_limits_and_endpoints(ddb):
    r = ddb.describe_limits()
    assert r["TableMaxReadCapacityUnits"] == 40000 and r["AccountMaxWriteCapacityUnits"] == 80000
    e = ddb.describe_endpoints()["Endpoints"]
    assert len(e) == 1 and e[0]["CachePeriodInMinutes"] == 1440

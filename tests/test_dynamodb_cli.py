"""The AWS CLI against nimbus's DynamoDB: `aws dynamodb ...` and `aws
dynamodbstreams ...` with --endpoint-url.  Under pyenv's python this is
pyenv's aws (botocore 1.43); under Debian's python /usr/bin/aws (awscli 2.9)."""
import json

import pytest


@pytest.fixture
def aws(aws_cli):
    return aws_cli


def test_cli_table_item_query_roundtrip(aws):
    d = aws("dynamodb", "create-table", "--table-name", "cli-t",
            "--attribute-definitions", "AttributeName=pk,AttributeType=S", "AttributeName=sk,AttributeType=N",
            "--key-schema", "AttributeName=pk,KeyType=HASH", "AttributeName=sk,KeyType=RANGE",
            "--billing-mode", "PAY_PER_REQUEST",
            "--stream-specification", "StreamEnabled=true,StreamViewType=NEW_IMAGE")["TableDescription"]
    assert d["TableName"] == "cli-t"
    aws("dynamodb", "wait", "table-exists", "--table-name", "cli-t")
    # One CLI process per call is slow: one put-item, then a batch for the rest.
    aws("dynamodb", "put-item", "--table-name", "cli-t", "--item", '{"pk":{"S":"p"},"sk":{"N":"0"},"v":{"S":"v0"}}')
    aws("dynamodb", "batch-write-item", "--request-items", json.dumps({"cli-t": [
        {"PutRequest": {"Item": {"pk": {"S": "p"}, "sk": {"N": str(i)}, "v": {"S": "v%d" % i}}}}
        for i in range(1, 7)]}))
    got = aws("dynamodb", "get-item", "--table-name", "cli-t", "--key", '{"pk":{"S":"p"},"sk":{"N":"3"}}')
    assert got["Item"] == {"pk": {"S": "p"}, "sk": {"N": "3"}, "v": {"S": "v3"}}
    upd = aws("dynamodb", "update-item", "--table-name", "cli-t", "--key", '{"pk":{"S":"p"},"sk":{"N":"3"}}',
              "--update-expression", "SET v = :v", "--expression-attribute-values", '{":v":{"S":"new"}}',
              "--return-values", "UPDATED_NEW")
    assert upd["Attributes"] == {"v": {"S": "new"}}
    # The CLI paginates by itself: --page-size 2 still returns every item.
    q = aws("dynamodb", "query", "--table-name", "cli-t", "--key-condition-expression", "pk = :p AND sk >= :s",
            "--expression-attribute-values", '{":p":{"S":"p"},":s":{"N":"2"}}', "--page-size", "2")
    assert [i["sk"]["N"] for i in q["Items"]] == ["2", "3", "4", "5", "6"] and q["Count"] == 5
    s = aws("dynamodb", "scan", "--table-name", "cli-t", "--filter-expression", "v = :v",
            "--expression-attribute-values", '{":v":{"S":"new"}}', "--page-size", "3")
    assert s["Count"] == 1 and s["ScannedCount"] == 7
    s = aws("dynamodb", "scan", "--table-name", "cli-t", "--max-items", "4")
    assert len(s["Items"]) == 4 and "NextToken" in s
    assert "cli-t" in aws("dynamodb", "list-tables")["TableNames"]
    streams = aws("dynamodbstreams", "list-streams", "--table-name", "cli-t")["Streams"]
    assert [x["StreamArn"] for x in streams] == [d["LatestStreamArn"]]
    aws("dynamodb", "delete-table", "--table-name", "cli-t")
    aws("dynamodb", "wait", "table-not-exists", "--table-name", "cli-t")


def test_cli_batch_transact_and_errors(aws):
    aws("dynamodb", "create-table", "--table-name", "cli-b", "--attribute-definitions",
        "AttributeName=pk,AttributeType=S", "--key-schema", "AttributeName=pk,KeyType=HASH",
        "--billing-mode", "PAY_PER_REQUEST")
    r = aws("dynamodb", "batch-write-item", "--request-items", json.dumps(
        {"cli-b": [{"PutRequest": {"Item": {"pk": {"S": "k%d" % i}}}} for i in range(3)]}))
    assert r["UnprocessedItems"] == {}
    aws("dynamodb", "transact-write-items", "--transact-items", json.dumps([
        {"Put": {"TableName": "cli-b", "Item": {"pk": {"S": "t"}}}},
        {"Delete": {"TableName": "cli-b", "Key": {"pk": {"S": "k0"}}}}]))
    got = aws("dynamodb", "batch-get-item", "--request-items", json.dumps(
        {"cli-b": {"Keys": [{"pk": {"S": "t"}}, {"pk": {"S": "k0"}}]}}))
    assert got["Responses"]["cli-b"] == [{"pk": {"S": "t"}}]
    p = aws("dynamodb", "put-item", "--table-name", "cli-b", "--item", '{"pk":{"S":"t"}}',
            "--condition-expression", "attribute_not_exists(pk)", ok=False)
    assert p.returncode != 0
    assert "ConditionalCheckFailedException" in p.stderr and "The conditional request failed" in p.stderr
    p = aws("dynamodb", "describe-table", "--table-name", "cli-none", ok=False)
    assert p.returncode != 0 and "ResourceNotFoundException" in p.stderr
    p = aws("dynamodb", "get-item", "--table-name", "cli-b", "--key", '{"nope":{"S":"x"}}', ok=False)
    assert p.returncode != 0 and "The provided key element does not match the schema" in p.stderr
    ttl = aws("dynamodb", "update-time-to-live", "--table-name", "cli-b",
              "--time-to-live-specification", "Enabled=true,AttributeName=exp")
    assert ttl["TimeToLiveSpecification"] == {"Enabled": True, "AttributeName": "exp"}

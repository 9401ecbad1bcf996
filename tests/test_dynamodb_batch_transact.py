"""DynamoDB batches and transactions: BatchGetItem/BatchWriteItem (limits,
duplicates, projections), TransactWriteItems (all-or-nothing,
CancellationReasons, one item once, ClientRequestToken idempotency),
TransactGetItems.  Both boto3 generations."""
import pytest

from conftest import BOTO_GEN
from ddb_util import N, S, create_table, expect_error, validation

TCE = "TransactionCanceledException"


@pytest.fixture
def two(ddb):
    create_table(ddb, "bt-a")
    create_table(ddb, "bt-b", range_key=("sk", "N"))
    return "bt-a", "bt-b"


def get(ddb, table, key):
    return ddb.get_item(TableName=table, Key=key).get("Item")


def test_batch_write_and_get(ddb, two):
    a, b = two
    r = ddb.batch_write_item(RequestItems={
        a: [{"PutRequest": {"Item": {"pk": S("k%d" % i), "v": N(i), "x": S("x")}}} for i in range(20)],
        b: [{"PutRequest": {"Item": {"pk": S("p"), "sk": N(i)}}} for i in range(5)]})
    assert r["UnprocessedItems"] == {}
    r = ddb.batch_get_item(RequestItems={
        a: {"Keys": [{"pk": S("k%d" % i)} for i in (1, 5, 19)] + [{"pk": S("absent")}],
            "ProjectionExpression": "v, #p", "ExpressionAttributeNames": {"#p": "pk"}},
        b: {"Keys": [{"pk": S("p"), "sk": N(4)}], "ConsistentRead": True}})
    assert r["UnprocessedKeys"] == {}
    assert sorted(r["Responses"][a], key=lambda i: int(i["v"]["N"])) == [
        {"pk": S("k1"), "v": N(1)}, {"pk": S("k5"), "v": N(5)}, {"pk": S("k19"), "v": N(19)}]
    assert r["Responses"][b] == [{"pk": S("p"), "sk": N(4)}]
    r = ddb.batch_write_item(RequestItems={a: [{"DeleteRequest": {"Key": {"pk": S("k%d" % i)}}} for i in range(10)]})
    assert r["UnprocessedItems"] == {}
    assert ddb.scan(TableName=a, Select="COUNT")["Count"] == 10
    r = ddb.batch_get_item(RequestItems={a: {"Keys": [{"pk": S("k1")}]}})
    assert r["Responses"] == {a: []}
    # Legacy AttributesToGet.
    r = ddb.batch_get_item(RequestItems={a: {"Keys": [{"pk": S("k15")}], "AttributesToGet": ["x"]}})
    assert r["Responses"][a] == [{"x": S("x")}]


def test_batch_limits_and_duplicates(ddb, two):
    a, b = two
    # More than 100 keys in all (each table's list is within its own limit of 100).
    validation(lambda: ddb.batch_get_item(RequestItems={
        a: {"Keys": [{"pk": S("k%d" % i)} for i in range(60)]},
        b: {"Keys": [{"pk": S("k"), "sk": N(i)} for i in range(41)]}}),
        "Too many items requested for the BatchGetItem call")
    m = str(validation(lambda: ddb.batch_get_item(RequestItems={a: {"Keys": [{"pk": S("k%d" % i)} for i in range(101)]}})))
    assert "Member must have length less than or equal to 100" in m, m
    validation(lambda: ddb.batch_get_item(RequestItems={a: {"Keys": [{"pk": S("x")}, {"pk": S("x")}]}}),
               "Provided list of item keys contains duplicates")
    validation(lambda: ddb.batch_write_item(RequestItems={a: [
        {"PutRequest": {"Item": {"pk": S("x")}}}, {"DeleteRequest": {"Key": {"pk": S("x")}}}]}),
        "Provided list of item keys contains duplicates")
    validation(lambda: ddb.batch_write_item(RequestItems={b: [
        {"PutRequest": {"Item": {"pk": S("x"), "sk": N(1), "v": N(1)}}},
        {"PutRequest": {"Item": {"pk": S("x"), "sk": N("1.0"), "v": N(2)}}}]}),
        "Provided list of item keys contains duplicates")
    # 26 writes: the model's map-value length constraint.
    m = str(validation(lambda: ddb.batch_write_item(RequestItems={a: [
        {"PutRequest": {"Item": {"pk": S("k%d" % i)}}} for i in range(26)]})))
    assert "Member must have length less than or equal to 25" in m, m
    validation(lambda: ddb.batch_write_item(RequestItems={a: [
        {"PutRequest": {"Item": {"pk": S("ok")}}}, {"PutRequest": {"Item": {"pk": N(1)}}}]}),
        "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N")
    expect_error(lambda: ddb.batch_write_item(RequestItems={"nope": [{"PutRequest": {"Item": {"pk": S("x")}}}]}),
                 "ResourceNotFoundException")
    validation(lambda: ddb.batch_get_item(RequestItems={a: {"Keys": [{"pk": S("x"), "extra": S("y")}]}}),
               "The provided key element does not match the schema")
    # A failed batch writes nothing.
    assert ddb.scan(TableName=a)["Count"] == 0


def test_transact_write_all_or_nothing(ddb, two):
    a, b = two
    ddb.put_item(TableName=a, Item={"pk": S("acct1"), "bal": N(100)})
    ddb.put_item(TableName=a, Item={"pk": S("acct2"), "bal": N(0)})
    ddb.put_item(TableName=a, Item={"pk": S("bank"), "open": {"BOOL": True}})
    ddb.transact_write_items(TransactItems=[
        {"Update": {"TableName": a, "Key": {"pk": S("acct1")}, "UpdateExpression": "SET bal = bal - :v",
                    "ConditionExpression": "bal >= :v", "ExpressionAttributeValues": {":v": N(30)}}},
        {"Update": {"TableName": a, "Key": {"pk": S("acct2")}, "UpdateExpression": "SET bal = bal + :v",
                    "ExpressionAttributeValues": {":v": N(30)}}},
        {"Put": {"TableName": b, "Item": {"pk": S("log"), "sk": N(1), "amt": N(30)}}},
        {"ConditionCheck": {"TableName": a, "Key": {"pk": S("bank")}, "ConditionExpression": "#o = :t",
                            "ExpressionAttributeNames": {"#o": "open"},
                            "ExpressionAttributeValues": {":t": {"BOOL": True}}}}])
    assert get(ddb, a, {"pk": S("acct1")})["bal"] == N(70)
    assert get(ddb, a, {"pk": S("acct2")})["bal"] == N(30)
    e = expect_error(lambda: ddb.transact_write_items(TransactItems=[
        {"Update": {"TableName": a, "Key": {"pk": S("acct1")}, "UpdateExpression": "SET bal = bal - :v",
                    "ConditionExpression": "bal >= :v", "ExpressionAttributeValues": {":v": N(500)},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
        {"Delete": {"TableName": b, "Key": {"pk": S("log"), "sk": N(1)}}},
        {"Put": {"TableName": b, "Item": {"pk": S("log"), "sk": N(2)}, "ConditionExpression": "attribute_not_exists(pk)"}}]),
        TCE, "Transaction cancelled, please refer cancellation reasons for specific reasons "
             "[ConditionalCheckFailed, None, None]")
    reasons = e.response["CancellationReasons"]
    assert reasons[0] == {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed",
                          "Item": {"pk": S("acct1"), "bal": N(70)}}
    assert reasons[1] == {"Code": "None"} and reasons[2] == {"Code": "None"}
    # Nothing applied.
    assert get(ddb, a, {"pk": S("acct1")})["bal"] == N(70)
    assert get(ddb, b, {"pk": S("log"), "sk": N(1)}) is not None
    assert get(ddb, b, {"pk": S("log"), "sk": N(2)}) is None
    e = expect_error(lambda: ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": a, "Item": {"pk": S("new")}}},
        {"ConditionCheck": {"TableName": a, "Key": {"pk": S("ghost")}, "ConditionExpression": "attribute_exists(pk)"}},
        {"Delete": {"TableName": a, "Key": {"pk": S("acct2")}, "ConditionExpression": "bal = :z",
                    "ExpressionAttributeValues": {":z": N(0)}}}]), TCE,
        "Transaction cancelled, please refer cancellation reasons for specific reasons "
        "[None, ConditionalCheckFailed, ConditionalCheckFailed]")
    assert [r["Code"] for r in e.response["CancellationReasons"]] == ["None", "ConditionalCheckFailed",
                                                                      "ConditionalCheckFailed"]
    assert "Item" not in e.response["CancellationReasons"][2]
    assert get(ddb, a, {"pk": S("new")}) is None


def test_transact_validation_errors(ddb, two):
    a, b = two
    validation(lambda: ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": a, "Item": {"pk": S("x")}}},
        {"Update": {"TableName": a, "Key": {"pk": S("x")}, "UpdateExpression": "SET v = :v",
                    "ExpressionAttributeValues": {":v": N(1)}}}]),
        "Transaction request cannot include multiple operations on one item")
    validation(lambda: ddb.transact_get_items(TransactItems=[
        {"Get": {"TableName": a, "Key": {"pk": S("x")}}}, {"Get": {"TableName": a, "Key": {"pk": S("x")}}}]),
        "Transaction request cannot include multiple operations on one item")
    m = str(validation(lambda: ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": a, "Item": {"pk": S("k%d" % i)}}} for i in range(101)])))
    assert "Member must have length less than or equal to 100" in m, m
    # A validation error in one action fails the whole call as a ValidationException.
    validation(lambda: ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": a, "Item": {"pk": S("ok")}}},
        {"Put": {"TableName": b, "Item": {"pk": S("x")}}}]),
        "One or more parameter values were invalid: Missing the key sk in the item")
    expect_error(lambda: ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": "nope", "Item": {"pk": S("x")}}}]), "ResourceNotFoundException")
    assert get(ddb, a, {"pk": S("ok")}) is None


def test_transact_client_request_token(ddb, two):
    a, _ = two
    items = [{"Update": {"TableName": a, "Key": {"pk": S("ctr")}, "UpdateExpression": "ADD n :one",
                         "ExpressionAttributeValues": {":one": N(1)}}}]
    ddb.transact_write_items(TransactItems=items, ClientRequestToken="tok-1")
    ddb.transact_write_items(TransactItems=items, ClientRequestToken="tok-1")
    assert get(ddb, a, {"pk": S("ctr")})["n"] == N(1)
    ddb.transact_write_items(TransactItems=items, ClientRequestToken="tok-2")
    assert get(ddb, a, {"pk": S("ctr")})["n"] == N(2)
    other = [{"Put": {"TableName": a, "Item": {"pk": S("other")}}}]
    expect_error(lambda: ddb.transact_write_items(TransactItems=other, ClientRequestToken="tok-1"),
                 "IdempotentParameterMismatchException")
    # Without a token (boto3 adds one automatically) every call applies.
    ddb.transact_write_items(TransactItems=items)
    ddb.transact_write_items(TransactItems=items)
    assert get(ddb, a, {"pk": S("ctr")})["n"] == N(4)


def test_transact_get(ddb, two):
    a, b = two
    ddb.put_item(TableName=a, Item={"pk": S("g1"), "v": N(1), "w": S("w")})
    ddb.put_item(TableName=b, Item={"pk": S("g2"), "sk": N(7), "v": N(2)})
    r = ddb.transact_get_items(TransactItems=[
        {"Get": {"TableName": a, "Key": {"pk": S("g1")}, "ProjectionExpression": "v"}},
        {"Get": {"TableName": a, "Key": {"pk": S("missing")}}},
        {"Get": {"TableName": b, "Key": {"pk": S("g2"), "sk": N(7)}}}])
    assert r["Responses"] == [{"Item": {"v": N(1)}}, {}, {"Item": {"pk": S("g2"), "sk": N(7), "v": N(2)}}]
    validation(lambda: ddb.transact_get_items(TransactItems=[{"Get": {"TableName": a, "Key": {"nope": S("x")}}}]),
               "The provided key element does not match the schema")


def test_batch_writer_resource(ddb_resource):
    t = ddb_resource.create_table(TableName="bwres", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                                  AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                                  BillingMode="PAY_PER_REQUEST")
    with t.batch_writer(overwrite_by_pkeys=["pk"]) as w:
        for i in range(60):
            w.put_item(Item={"pk": "k%d" % (i % 55), "i": i})
    assert t.scan(Select="COUNT")["Count"] == 55
    assert t.get_item(Key={"pk": "k0"})["Item"]["i"] == 55

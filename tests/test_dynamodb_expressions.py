"""DynamoDB expressions: ExpressionAttributeNames/Values checks (unused,
undefined, empty, reserved words), condition functions and comparisons,
syntax errors, and the boto3 resource layer's Key/Attr builders.  Both boto3
generations."""
import pytest
from boto3.dynamodb.conditions import Attr, Key

from ddb_util import N, S, create_table, expect_error, validation

CCF = "ConditionalCheckFailedException"


@pytest.fixture
def tbl(ddb):
    create_table(ddb, "expr")
    ddb.put_item(TableName="expr", Item={
        "pk": S("a"), "n": N(5), "s": S("hello"), "b": {"B": b"\x01\x02"}, "ss": {"SS": ["x", "y"]},
        "l": {"L": [N(1), S("two")]}, "m": {"M": {"k": S("v")}}, "t": {"BOOL": True}, "z": {"NULL": True}})
    return "expr"


def check(ddb, tbl, cond, values=None, names=None):
    """True when cond holds for item 'a' (via a conditional no-op update)."""
    kw = {}
    if values:
        kw["ExpressionAttributeValues"] = values
    if names:
        kw["ExpressionAttributeNames"] = names
    try:
        ddb.update_item(TableName=tbl, Key={"pk": S("a")}, ConditionExpression=cond, **kw)
        return True
    except ddb.exceptions.ConditionalCheckFailedException:
        return False


def test_unused_names_and_values(ddb, tbl):
    validation(lambda: ddb.get_item(TableName=tbl, Key={"pk": S("a")}, ProjectionExpression="n",
                                    ExpressionAttributeNames={"#unused": "x"}),
               "Value provided in ExpressionAttributeNames unused in expressions: keys: {#unused}")
    validation(lambda: ddb.put_item(TableName=tbl, Item={"pk": S("b")}, ConditionExpression="attribute_not_exists(pk)",
                                    ExpressionAttributeValues={":unused": N(1)}),
               "Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused}")
    validation(lambda: ddb.put_item(TableName=tbl, Item={"pk": S("b")}, ExpressionAttributeValues={":v": N(1)}),
               "ExpressionAttributeValues can only be specified when using expressions: ConditionExpression is null")
    validation(lambda: ddb.get_item(TableName=tbl, Key={"pk": S("a")}, ExpressionAttributeNames={"#n": "n"}),
               "ExpressionAttributeNames can only be specified when using expressions")
    validation(lambda: ddb.update_item(TableName=tbl, Key={"pk": S("a")}, UpdateExpression="REMOVE n",
                                       ExpressionAttributeValues={}),
               "ExpressionAttributeValues must not be empty")
    validation(lambda: ddb.update_item(TableName=tbl, Key={"pk": S("a")}, UpdateExpression="REMOVE n",
                                       ExpressionAttributeNames={}),
               "ExpressionAttributeNames must not be empty")
    # Nothing was written.
    assert "Item" not in ddb.get_item(TableName=tbl, Key={"pk": S("b")})


def test_undefined_names_and_values(ddb, tbl):
    validation(lambda: ddb.update_item(TableName=tbl, Key={"pk": S("a")}, ConditionExpression="n = :v"),
               "Invalid ConditionExpression: An expression attribute value used in expression is not defined; "
               "attribute value: :v")
    validation(lambda: ddb.update_item(TableName=tbl, Key={"pk": S("a")}, ConditionExpression="#n = :v",
                                       ExpressionAttributeValues={":v": N(1)}),
               "Invalid ConditionExpression: An expression attribute name used in the document path is not "
               "defined; attribute name: #n")
    validation(lambda: ddb.get_item(TableName=tbl, Key={"pk": S("a")}, ProjectionExpression="#p"),
               "Invalid ProjectionExpression: An expression attribute name used in the document path is not "
               "defined; attribute name: #p")


def test_reserved_words(ddb, tbl):
    validation(lambda: ddb.get_item(TableName=tbl, Key={"pk": S("a")}, ProjectionExpression="name"),
               "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: name")
    validation(lambda: ddb.update_item(TableName=tbl, Key={"pk": S("a")}, UpdateExpression="SET status = :v",
                                       ExpressionAttributeValues={":v": N(1)}),
               "Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: status")
    validation(lambda: ddb.update_item(TableName=tbl, Key={"pk": S("a")}, ConditionExpression="m.Size = :v",
                                       ExpressionAttributeValues={":v": N(1)}),
               "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: Size")
    # With a placeholder it works.
    ddb.update_item(TableName=tbl, Key={"pk": S("a")}, UpdateExpression="SET #s = :v",
                    ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":v": N(1)})
    assert ddb.get_item(TableName=tbl, Key={"pk": S("a")}, ProjectionExpression="#s",
                        ExpressionAttributeNames={"#s": "status"})["Item"] == {"status": N(1)}


def test_syntax_errors(ddb, tbl):
    validation(lambda: ddb.update_item(TableName=tbl, Key={"pk": S("a")}, ConditionExpression="n = = :v",
                                       ExpressionAttributeValues={":v": N(1)}),
               "Invalid ConditionExpression: Syntax error; token: \"=\", near: \"= = :v\"")
    validation(lambda: ddb.update_item(TableName=tbl, Key={"pk": S("a")}, ConditionExpression="",
                                       ExpressionAttributeValues={":v": N(1)}),
               prefix="Invalid ConditionExpression: The expression can not be empty;")
    validation(lambda: ddb.update_item(TableName=tbl, Key={"pk": S("a")}, ConditionExpression="nofunc(n)"),
               "Invalid ConditionExpression: Invalid function name; function: nofunc")
    validation(lambda: ddb.update_item(TableName=tbl, Key={"pk": S("a")}, ConditionExpression="n = n"),
               prefix="Invalid ConditionExpression: The first operand must be distinct from the remaining "
                      "operands for this operator or function;")
    validation(lambda: ddb.update_item(TableName=tbl, Key={"pk": S("a")},
                                       ConditionExpression="attribute_type(n, :t)",
                                       ExpressionAttributeValues={":t": S("X")}),
               "Invalid ConditionExpression: Invalid attribute type name found; type: X, valid types: "
               "{B,NULL,SS,BOOL,L,BS,N,NS,S,M}")
    validation(lambda: ddb.update_item(TableName=tbl, Key={"pk": S("a")}, ConditionExpression="n BETWEEN :b AND :a",
                                       ExpressionAttributeValues={":a": N(1), ":b": N(9)}),
               prefix="Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than "
                      "or equal to lower bound;")


def test_condition_functions_and_comparisons(ddb, tbl):
    c = lambda cond, values=None, names=None: check(ddb, tbl, cond, values, names)  # noqa: E731
    assert c("attribute_exists(n) AND attribute_not_exists(nosuch)")
    assert not c("attribute_exists(nosuch)")
    assert c("attribute_exists(m.k) AND attribute_exists(l[1]) AND attribute_not_exists(l[2])")
    assert c("attribute_type(ss, :t)", {":t": S("SS")}) and not c("attribute_type(ss, :t)", {":t": S("L")})
    assert c("attribute_type(z, :t)", {":t": S("NULL")})
    assert c("begins_with(s, :p)", {":p": S("hel")}) and not c("begins_with(s, :p)", {":p": S("el")})
    assert c("begins_with(b, :p)", {":p": {"B": b"\x01"}})
    assert c("contains(s, :p)", {":p": S("ell")}) and c("contains(ss, :p)", {":p": S("x")})
    assert c("contains(l, :p)", {":p": S("two")}) and not c("contains(l, :p)", {":p": S("one")})
    assert c("size(s) = :five AND size(ss) = :two AND size(l) = :two AND size(m) = :one AND size(b) = :two",
             {":five": N(5), ":two": N(2), ":one": N(1)})
    assert c("n > :a AND n >= :b AND n < :c AND n <= :b AND n <> :a", {":a": N(4), ":b": N(5), ":c": N("5.01")})
    assert c("s < :t", {":t": S("help")}) and not c("s > :t", {":t": S("help")})
    # Comparison of different types is false, not an error.
    assert not c("n = :s", {":s": S("5")}) and not c("n < :s", {":s": S("9")})
    assert c("n <> :s", {":s": S("5")})
    assert c("n IN (:a, :b, :c)", {":a": N(1), ":b": N(5), ":c": S("x")})
    assert c("(n = :a OR s = :s) AND NOT (t = :f)", {":a": N(0), ":s": S("hello"), ":f": {"BOOL": False}})
    assert c("m.k = :v AND l[0] = :one", {":v": S("v"), ":one": N(1)})
    assert c("#m.#k = :v", {":v": S("v")}, {"#m": "m", "#k": "k"})
    assert c("l = :l", {":l": {"L": [N(1), S("two")]}})
    assert c("ss = :s", {":s": {"SS": ["y", "x"]}})
    assert c("m = :m", {":m": {"M": {"k": S("v")}}})
    # A missing attribute compared is false.
    assert not c("nosuch = :a", {":a": N(1)}) and c("NOT nosuch = :a", {":a": N(1)})
    # Numbers compare numerically.
    assert c("n = :a", {":a": N("5.000")}) and c("n < :a", {":a": N("1e1")})


def test_resource_conditions(ddb_resource):
    t = ddb_resource.create_table(
        TableName="rcond", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST")
    with t.batch_writer() as w:
        for i in range(30):
            w.put_item(Item={"pk": "p", "sk": i, "even": i % 2 == 0, "name": "n%02d" % i,
                             "tags": {"t%d" % (i % 3)}})
    r = t.query(KeyConditionExpression=Key("pk").eq("p") & Key("sk").between(10, 19),
                FilterExpression=Attr("even").eq(True) & Attr("name").begins_with("n1"))
    assert [int(i["sk"]) for i in r["Items"]] == [10, 12, 14, 16, 18]
    assert r["Count"] == 5 and r["ScannedCount"] == 10
    r = t.scan(FilterExpression=Attr("tags").contains("t0") & Attr("sk").lt(10) & Attr("nosuch").not_exists())
    assert sorted(int(i["sk"]) for i in r["Items"]) == [0, 3, 6, 9]
    r = t.scan(FilterExpression=Attr("sk").is_in([1, 2, 99]) | Attr("name").eq("n29"))
    assert sorted(int(i["sk"]) for i in r["Items"]) == [1, 2, 29]
    t.update_item(Key={"pk": "p", "sk": 1}, UpdateExpression="SET #n = :v",
                  ExpressionAttributeNames={"#n": "name"}, ExpressionAttributeValues={":v": "renamed"},
                  ConditionExpression=Attr("name").eq("n01") & Attr("sk").gte(1))
    with pytest.raises(ddb_resource.meta.client.exceptions.ConditionalCheckFailedException):
        t.delete_item(Key={"pk": "p", "sk": 1}, ConditionExpression=Attr("name").ne("renamed"))
    assert t.get_item(Key={"pk": "p", "sk": 1})["Item"]["name"] == "renamed"

"""DynamoDB items: PutItem/GetItem/UpdateItem/DeleteItem, conditions,
ReturnValues, ReturnValuesOnConditionCheckFailure, key validation, number
precision and canonical form, set rules, the 400 KB limit, malformed input.
Both boto3 generations."""
from decimal import Decimal

import pytest

from conftest import BOTO_GEN

from ddb_util import (N, S, create_table, error_type, expect_error, raw_call, raw_client, validation)

CCF = "ConditionalCheckFailedException"


@pytest.fixture
def tbl(ddb):
    create_table(ddb, "items")
    return "items"


@pytest.fixture
def tbl2(ddb):
    create_table(ddb, "items2", range_key=("sk", "N"))
    return "items2"


def get(ddb, table, key, **kw):
    return ddb.get_item(TableName=table, Key=key, **kw).get("Item")


def test_put_get_all_types(ddb, tbl):
    item = {"pk": S("all"), "s": S("héllo ✓"), "n": N("-12.5"), "b": {"B": b"\x00\x01\xff"},
            "bool": {"BOOL": False}, "null": {"NULL": True},
            "ss": {"SS": ["b", "a"]}, "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": [b"x", b"y"]},
            "l": {"L": [S("x"), N(1), {"L": []}, {"M": {}}]},
            "m": {"M": {"inner": {"M": {"deep": S("v")}}, "e": S("")}}}
    assert ddb.put_item(TableName=tbl, Item=item).get("Attributes") is None
    got = get(ddb, tbl, {"pk": S("all")}, ConsistentRead=True)
    assert got["ss"]["SS"] and sorted(got["ss"]["SS"]) == ["a", "b"]
    assert sorted(got["ns"]["NS"]) == ["1", "2.5"]
    assert sorted(got["bs"]["BS"]) == [b"x", b"y"]
    for k in ("s", "n", "b", "bool", "null", "l", "m", "pk"):
        assert got[k] == item[k], k
    assert get(ddb, tbl, {"pk": S("absent")}) is None


def test_resource_layer_roundtrip(ddb_resource):
    t = ddb_resource.create_table(TableName="res", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                                  AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                                  BillingMode="PAY_PER_REQUEST")
    t.wait_until_exists()
    t.put_item(Item={"pk": "a", "n": Decimal("1.50"), "big": 10 ** 37, "s": {"x", "y"}, "l": [1, "two"]})
    got = t.get_item(Key={"pk": "a"})["Item"]
    assert got == {"pk": "a", "n": Decimal("1.5"), "big": Decimal(10 ** 37), "s": {"x", "y"},
                   "l": [Decimal(1), "two"]}
    assert str(got["n"]) == "1.5"


def test_put_replaces_whole_item_and_return_values(ddb, tbl):
    ddb.put_item(TableName=tbl, Item={"pk": S("a"), "x": N(1), "y": N(2)})
    r = ddb.put_item(TableName=tbl, Item={"pk": S("a"), "z": N(3)}, ReturnValues="ALL_OLD")
    assert r["Attributes"] == {"pk": S("a"), "x": N(1), "y": N(2)}
    assert get(ddb, tbl, {"pk": S("a")}) == {"pk": S("a"), "z": N(3)}
    r = ddb.put_item(TableName=tbl, Item={"pk": S("new")}, ReturnValues="ALL_OLD")
    assert "Attributes" not in r
    validation(lambda: ddb.put_item(TableName=tbl, Item={"pk": S("a")}, ReturnValues="ALL_NEW"),
               "Return values set to invalid value")
    validation(lambda: ddb.delete_item(TableName=tbl, Key={"pk": S("a")}, ReturnValues="UPDATED_OLD"),
               "Return values set to invalid value")


def test_delete_return_values_and_idempotence(ddb, tbl):
    ddb.put_item(TableName=tbl, Item={"pk": S("a"), "x": S("1")})
    assert ddb.delete_item(TableName=tbl, Key={"pk": S("a")}, ReturnValues="ALL_OLD")["Attributes"] == \
        {"pk": S("a"), "x": S("1")}
    assert "Attributes" not in ddb.delete_item(TableName=tbl, Key={"pk": S("a")}, ReturnValues="ALL_OLD")
    assert get(ddb, tbl, {"pk": S("a")}) is None


def test_update_item_return_values_each_kind(ddb, tbl):
    key = {"pk": S("u")}
    ddb.put_item(TableName=tbl, Item={"pk": S("u"), "a": N(1), "b": N(2), "keep": S("k")})

    def upd(rv, v):
        return ddb.update_item(TableName=tbl, Key=key, UpdateExpression="SET a = :v, c = :v REMOVE b",
                               ExpressionAttributeValues={":v": N(v)}, ReturnValues=rv).get("Attributes")
    assert upd("NONE", 10) is None
    assert upd("ALL_OLD", 11) == {"pk": S("u"), "a": N(10), "c": N(10), "keep": S("k")}
    ddb.put_item(TableName=tbl, Item={"pk": S("u"), "a": N(1), "b": N(2), "keep": S("k")})
    assert upd("UPDATED_OLD", 12) == {"a": N(1), "b": N(2)}
    assert upd("UPDATED_NEW", 13) == {"a": N(13), "c": N(13)}
    assert upd("ALL_NEW", 14) == {"pk": S("u"), "a": N(14), "c": N(14), "keep": S("k")}
    # UpdateItem on a missing item creates it (upsert).
    r = ddb.update_item(TableName=tbl, Key={"pk": S("fresh")}, UpdateExpression="SET v = :v",
                        ExpressionAttributeValues={":v": S("x")}, ReturnValues="ALL_OLD")
    assert "Attributes" not in r
    assert get(ddb, tbl, {"pk": S("fresh")}) == {"pk": S("fresh"), "v": S("x")}
    # An update without an UpdateExpression just makes sure the item exists.
    ddb.update_item(TableName=tbl, Key={"pk": S("bare")})
    assert get(ddb, tbl, {"pk": S("bare")}) == {"pk": S("bare")}


def test_update_actions(ddb, tbl):
    key = {"pk": S("act")}
    ddb.put_item(TableName=tbl, Item={
        "pk": S("act"), "n": N(10), "l": {"L": [N(1), N(2), N(3), N(4)]}, "ss": {"SS": ["a", "b", "c"]},
        "ns": {"NS": ["1", "2"]}, "m": {"M": {"x": N(1), "y": {"L": [S("p"), S("q")]}}}, "gone": S("g")})

    def u(expr, values=None, names=None):
        kw = {"ExpressionAttributeValues": values} if values else {}
        if names:
            kw["ExpressionAttributeNames"] = names
        return ddb.update_item(TableName=tbl, Key=key, UpdateExpression=expr, ReturnValues="ALL_NEW", **kw)[
            "Attributes"]

    assert u("SET n = n + :d", {":d": N("0.5")})["n"] == N("10.5")
    assert u("SET n = n - :d", {":d": N("20")})["n"] == N("-9.5")
    assert u("SET n2 = :a + :b", {":a": N(2), ":b": N(3)})["n2"] == N(5)
    assert u("SET c = if_not_exists(c, :z)", {":z": N(0)})["c"] == N(0)
    assert u("SET c = if_not_exists(c, :z) + :one", {":z": N(0), ":one": N(1)})["c"] == N(1)
    assert u("SET l = list_append(l, :t)", {":t": {"L": [N(5)]}})["l"]["L"][-1] == N(5)
    assert u("SET l = list_append(:h, l)", {":h": {"L": [N(0)]}})["l"]["L"] == [N(i) for i in range(6)]
    assert u("SET l[1] = :v", {":v": S("one")})["l"]["L"][1] == S("one")
    # Setting past the end appends.
    assert u("SET l[100] = :v", {":v": S("end")})["l"]["L"][-1] == S("end")
    assert len(u("REMOVE l[0], l[2]")["l"]["L"]) == 5
    got = u("SET m.x = :v, m.y[0] = :w, m.#new = :v", {":v": N(7), ":w": S("P")}, {"#new": "z"})
    assert got["m"]["M"] == {"x": N(7), "y": {"L": [S("P"), S("q")]}, "z": N(7)}
    assert u("REMOVE m.y[1], gone")["m"]["M"]["y"] == {"L": [S("P")]}
    assert "gone" not in u("ADD n :d", {":d": N(1)})
    assert u("ADD n :d", {":d": N("-0.5")})["n"] == N(-9)
    assert u("ADD fresh :d", {":d": N(3)})["fresh"] == N(3)
    assert sorted(u("ADD ss :s", {":s": {"SS": ["c", "d"]}})["ss"]["SS"]) == ["a", "b", "c", "d"]
    assert sorted(u("ADD newset :s", {":s": {"NS": ["5"]}})["newset"]["NS"]) == ["5"]
    assert sorted(u("DELETE ss :s", {":s": {"SS": ["a", "zz"]}})["ss"]["SS"]) == ["b", "c", "d"]
    # Deleting every element removes the attribute.
    assert "ns" not in u("DELETE ns :s", {":s": {"NS": ["1", "2"]}})
    final = u("SET a1 = :v ADD n :d REMOVE c DELETE ss :s",
              {":v": S("x"), ":d": N(1), ":s": {"SS": ["b"]}})
    assert final["a1"] == S("x") and final["n"] == N(-8) and "c" not in final
    assert sorted(final["ss"]["SS"]) == ["c", "d"]


def test_update_list_remove_past_end_is_noop(ddb, tbl):
    ddb.put_item(TableName=tbl, Item={"pk": S("l"), "l": {"L": [N(1), N(2)]}})
    r = ddb.update_item(TableName=tbl, Key={"pk": S("l")}, UpdateExpression="REMOVE l[5]",
                        ReturnValues="ALL_NEW")
    assert r["Attributes"]["l"] == {"L": [N(1), N(2)]}


def test_update_errors(ddb, tbl):
    key = {"pk": S("e")}
    ddb.put_item(TableName=tbl, Item={"pk": S("e"), "s": S("str"), "l": {"L": []}, "ss": {"SS": ["a"]}})

    def u(expr, values=None):
        kw = {"ExpressionAttributeValues": values} if values else {}
        return lambda: ddb.update_item(TableName=tbl, Key=key, UpdateExpression=expr, **kw)
    validation(u("SET nosuch = nosuch + :one", {":one": N(1)}),
               "The provided expression refers to an attribute that does not exist in the item")
    validation(u("SET s = s + :one", {":one": N(1)}),
               "An operand in the update expression has an incorrect data type")
    validation(u("ADD s :one", {":one": N(1)}),
               "An operand in the update expression has an incorrect data type")
    validation(u("ADD n :str", {":str": S("x")}),
               "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, "
               "operand type: STRING, typeSet: ALLOWED_FOR_ADD_OPERAND")
    validation(u("SET pk = :v", {":v": S("x")}),
               "One or more parameter values were invalid: Cannot update attribute pk. "
               "This attribute is part of the key")
    validation(u("SET a = :v, a = :v", {":v": S("x")}),
               "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite "
               "one of these paths; path one: [a], path two: [a]")
    validation(u("SET m.a = :v REMOVE m", {":v": S("x")}),
               "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite "
               "one of these paths; path one: [m, a], path two: [m]")
    validation(u("SET nope.x = :v", {":v": S("x")}),
               "The document path provided in the update expression is invalid for update")
    validation(u("SET l = list_append(l, :v)", {":v": S("x")}),
               "Invalid UpdateExpression: Incorrect operand type for operator or function; "
               "operator or function: list_append, operand type: S")
    validation(u("SET a = :v", {":v": {"SS": []}}),
               "One or more parameter values were invalid: An string set  may not be empty")
    validation(u("DELETE ss :v", {":v": S("a")}),
               "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, "
               "operand type: STRING, typeSet: ALLOWED_FOR_DELETE_OPERAND")
    validation(u("SET a = :v"), "Invalid UpdateExpression: An expression attribute value used in expression "
                                "is not defined; attribute value: :v")
    validation(u("SET"), prefix="Invalid UpdateExpression: Syntax error; token: \"<EOF>\", near: \"SET\"")
    validation(u("SET a = :v SET b = :v", {":v": N(1)}),
               prefix="Invalid UpdateExpression: The \"SET\" section can only be used once in an update expression;")
    # Nothing changed by the failed updates.
    assert get(ddb, tbl, key) == {"pk": S("e"), "s": S("str"), "l": {"L": []}, "ss": {"SS": ["a"]}}


def test_conditions_on_put_update_delete(ddb, tbl):
    ddb.put_item(TableName=tbl, Item={"pk": S("c"), "v": N(1), "tags": {"SS": ["x"]}})
    cond = dict(ConditionExpression="attribute_not_exists(pk)")
    expect_error(lambda: ddb.put_item(TableName=tbl, Item={"pk": S("c")}, **cond), CCF,
                 "The conditional request failed")
    ddb.put_item(TableName=tbl, Item={"pk": S("d")}, **cond)
    ddb.update_item(TableName=tbl, Key={"pk": S("c")}, UpdateExpression="SET v = v + :one",
                    ConditionExpression="v = :one AND contains(tags, :x) AND size(tags) = :one "
                                        "AND attribute_type(v, :n) AND NOT begins_with(pk, :z)",
                    ExpressionAttributeValues={":one": N(1), ":x": S("x"), ":n": S("N"), ":z": S("z")})
    assert get(ddb, tbl, {"pk": S("c")})["v"] == N(2)
    expect_error(lambda: ddb.update_item(
        TableName=tbl, Key={"pk": S("c")}, UpdateExpression="SET v = :one",
        ConditionExpression="v BETWEEN :a AND :b", ExpressionAttributeValues={":one": N(1), ":a": N(5),
                                                                             ":b": N(9)}), CCF)
    # A condition on a missing item sees no attributes.
    expect_error(lambda: ddb.update_item(TableName=tbl, Key={"pk": S("zz")}, UpdateExpression="SET v = :one",
                                         ConditionExpression="attribute_exists(pk)",
                                         ExpressionAttributeValues={":one": N(1)}), CCF)
    assert get(ddb, tbl, {"pk": S("zz")}) is None
    expect_error(lambda: ddb.delete_item(TableName=tbl, Key={"pk": S("c")},
                                         ConditionExpression="v IN (:a, :b)",
                                         ExpressionAttributeValues={":a": N(7), ":b": N(8)}), CCF)
    ddb.delete_item(TableName=tbl, Key={"pk": S("c")}, ConditionExpression="v IN (:a, :b)",
                    ExpressionAttributeValues={":a": N(2), ":b": N(8)})
    assert get(ddb, tbl, {"pk": S("c")}) is None


@pytest.mark.skipif(BOTO_GEN == "old", reason="botocore 1.29 lacks ReturnValuesOnConditionCheckFailure on PutItem")
def test_return_values_on_condition_check_failure(ddb, tbl):
    ddb.put_item(TableName=tbl, Item={"pk": S("r"), "v": N(1)})
    e = expect_error(lambda: ddb.put_item(TableName=tbl, Item={"pk": S("r")},
                                          ConditionExpression="attribute_not_exists(pk)",
                                          ReturnValuesOnConditionCheckFailure="ALL_OLD"), CCF)
    assert e.response["Item"] == {"pk": S("r"), "v": N(1)}
    e = expect_error(lambda: ddb.delete_item(TableName=tbl, Key={"pk": S("r")}, ConditionExpression="v = :t",
                                             ExpressionAttributeValues={":t": N(2)},
                                             ReturnValuesOnConditionCheckFailure="NONE"), CCF)
    assert "Item" not in e.response
    # No item: nothing to return.
    e = expect_error(lambda: ddb.update_item(TableName=tbl, Key={"pk": S("none")}, UpdateExpression="SET v = :t",
                                             ConditionExpression="attribute_exists(v)",
                                             ExpressionAttributeValues={":t": N(2)},
                                             ReturnValuesOnConditionCheckFailure="ALL_OLD"), CCF)
    assert "Item" not in e.response


def test_projection_expressions(ddb, tbl):
    ddb.put_item(TableName=tbl, Item={
        "pk": S("p"), "a": S("A"), "b": S("B"),
        "m": {"M": {"x": {"M": {"y": N(1), "z": N(2)}}, "w": S("W")}},
        "l": {"L": [S("l0"), {"M": {"k": S("l1k"), "j": S("l1j")}}, S("l2")]}, "dot.ted": S("D")})

    def p(expr, names=None):
        kw = {"ExpressionAttributeNames": names} if names else {}
        return get(ddb, tbl, {"pk": S("p")}, ProjectionExpression=expr, **kw)
    assert p("a") == {"a": S("A")}
    assert p("a, b, nosuch") == {"a": S("A"), "b": S("B")}
    assert p("m.x.y") == {"m": {"M": {"x": {"M": {"y": N(1)}}}}}
    assert p("m.x.y, m.w") == {"m": {"M": {"x": {"M": {"y": N(1)}}, "w": S("W")}}}
    assert p("l[1].k, l[2]") == {"l": {"L": [{"M": {"k": S("l1k")}}, S("l2")]}}
    assert p("l[0]") == {"l": {"L": [S("l0")]}}
    assert p("l[9]") is None or p("l[9]") == {}
    assert p("#d", {"#d": "dot.ted"}) == {"dot.ted": S("D")}
    assert p("#m.#x", {"#m": "m", "#x": "x"}) == {"m": {"M": {"x": {"M": {"y": N(1), "z": N(2)}}}}}
    validation(lambda: p("a, a"),
               "Invalid ProjectionExpression: Two document paths overlap with each other; must remove or "
               "rewrite one of these paths; path one: [a], path two: [a]")
    validation(lambda: p("m, m.x"),
               "Invalid ProjectionExpression: Two document paths overlap with each other; must remove or "
               "rewrite one of these paths; path one: [m], path two: [m, x]")
    # Legacy AttributesToGet.
    assert get(ddb, tbl, {"pk": S("p")}, AttributesToGet=["a", "b"]) == {"a": S("A"), "b": S("B")}


def test_key_validation(ddb, tbl, tbl2):
    validation(lambda: ddb.put_item(TableName=tbl, Item={"x": S("a")}),
               "One or more parameter values were invalid: Missing the key pk in the item")
    validation(lambda: ddb.put_item(TableName=tbl, Item={"pk": N(1)}),
               "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N")
    validation(lambda: ddb.put_item(TableName=tbl, Item={"pk": S("")}),
               "One or more parameter values are not valid. The AttributeValue for a key attribute cannot "
               "contain an empty string value. Key: pk")
    validation(lambda: ddb.put_item(TableName=tbl2, Item={"pk": S("a")}),
               "One or more parameter values were invalid: Missing the key sk in the item")
    for key in ({"pk": N(1)}, {"x": S("a")}, {"pk": S("a"), "extra": S("b")}):
        validation(lambda: ddb.get_item(TableName=tbl, Key=key),
                   "The provided key element does not match the schema")
    validation(lambda: ddb.get_item(TableName=tbl2, Key={"pk": S("a")}),
               "The provided key element does not match the schema")
    validation(lambda: ddb.delete_item(TableName=tbl2, Key={"pk": S("a"), "sk": S("x")}),
               "The provided key element does not match the schema")
    validation(lambda: ddb.update_item(TableName=tbl, Key={"pk": S("")}, UpdateExpression="SET a = :v",
                                       ExpressionAttributeValues={":v": N(1)}),
               "One or more parameter values are not valid. The AttributeValue for a key attribute cannot "
               "contain an empty string value. Key: pk")
    # A hash key is at most 2048 bytes, a sort key 1024.
    ddb.put_item(TableName=tbl, Item={"pk": S("k" * 2048)})
    validation(lambda: ddb.put_item(TableName=tbl, Item={"pk": S("k" * 2049)}),
               "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size "
               "limit of2048 bytes")
    ddb.put_item(TableName="items2", Item={"pk": S("a"), "sk": N(1)})


def test_number_canonical_form_and_precision(ddb, tbl):
    cases = {"1.50": "1.5", "001": "1", "-0": "0", "0.000": "0", "1e3": "1000", "1.5E-3": "0.0015",
             "+7": "7", "-0.10": "-0.1", "12345678901234567890123456789012345678": None,
             }
    for i, (given, canon) in enumerate(cases.items()):
        ddb.put_item(TableName=tbl, Item={"pk": S("n%d" % i), "n": {"N": given}})
        got = get(ddb, tbl, {"pk": S("n%d" % i)})["n"]["N"]
        assert got == (canon or given), (given, got)
    # The extremes of the documented range are accepted (their text form is not documented).
    for i, extreme in enumerate(("9.9999999999999999999999999999999999999E+125", "1E-130", "-1E-130")):
        ddb.put_item(TableName=tbl, Item={"pk": S("x%d" % i), "n": {"N": extreme}})
        assert Decimal(get(ddb, tbl, {"pk": S("x%d" % i)})["n"]["N"]) == Decimal(extreme)
    validation(lambda: ddb.put_item(TableName=tbl, Item={"pk": S("x"), "n": N("1234567890123456789012345678901234567891")}),
               "Attempting to store more than 38 significant digits in a Number")
    validation(lambda: ddb.put_item(TableName=tbl, Item={"pk": S("x"), "n": N("1E126")}),
               "Number overflow. Attempting to store a number with magnitude larger than supported range")
    validation(lambda: ddb.put_item(TableName=tbl, Item={"pk": S("x"), "n": N("1E-131")}),
               "Number underflow. Attempting to store a number with magnitude smaller than supported range")
    for bad in ("abc", "1.2.3", "", " 1", "0x10", "NaN", "Infinity", "1e", "."):
        validation(lambda: ddb.put_item(TableName=tbl, Item={"pk": S("x"), "n": {"N": bad}}),
                   "The parameter cannot be converted to a numeric value" + (": " + bad if bad else ""))
    # Trailing zeroes do not count as significant digits.
    ddb.put_item(TableName=tbl, Item={"pk": S("z"), "n": N("1" * 38 + "000")})
    assert get(ddb, tbl, {"pk": S("z")})["n"] == N("1" * 38 + "000")
    # Sets are de-duplicated numerically: 1 and 1.0 are the same number.
    m = validation(lambda: ddb.put_item(TableName=tbl, Item={"pk": S("x"), "ns": {"NS": ["1", "1.0"]}}))
    assert "contains duplicates" in str(m)


def test_number_arithmetic_is_exact(ddb, tbl):
    ddb.put_item(TableName=tbl, Item={"pk": S("x"), "n": N("0.1")})
    r = ddb.update_item(TableName=tbl, Key={"pk": S("x")}, UpdateExpression="SET n = n + :v",
                        ExpressionAttributeValues={":v": N("0.2")}, ReturnValues="UPDATED_NEW")
    assert r["Attributes"]["n"] == N("0.3")
    ddb.put_item(TableName=tbl, Item={"pk": S("x"), "n": N("9" * 37)})
    r = ddb.update_item(TableName=tbl, Key={"pk": S("x")}, UpdateExpression="ADD n :v",
                        ExpressionAttributeValues={":v": N(1)}, ReturnValues="UPDATED_NEW")
    assert r["Attributes"]["n"] == N("1" + "0" * 37)
    r = ddb.update_item(TableName=tbl, Key={"pk": S("x")}, UpdateExpression="SET n = n - :v",
                        ExpressionAttributeValues={":v": N("1" + "0" * 36 + ".5")}, ReturnValues="UPDATED_NEW")
    assert r["Attributes"]["n"] == N("8" + "9" * 36 + ".5")
    ddb.put_item(TableName=tbl, Item={"pk": S("y"), "n": N("9" * 38)})
    # An inexact sum (39 digits) is refused with DynamoDB's overflow message
    # (ScyllaDB's conformance tests, run against DynamoDB, show this).
    validation(lambda: ddb.update_item(TableName=tbl, Key={"pk": S("y")}, UpdateExpression="SET n = n + :v",
                                       ExpressionAttributeValues={":v": N("0.1")}),
               "Number overflow. Attempting to store a number with magnitude larger than supported range")


def test_attribute_value_validation(ddb, tbl, nimbus):
    validation(lambda: ddb.put_item(TableName=tbl, Item={"pk": S("x"), "ss": {"SS": ["a", "b", "a"]}}),
               "One or more parameter values were invalid: Input collection [a, b, a] contains duplicates.")
    validation(lambda: ddb.put_item(TableName=tbl, Item={"pk": S("x"), "ss": {"SS": []}}),
               "One or more parameter values were invalid: An string set  may not be empty")
    validation(lambda: ddb.put_item(TableName=tbl, Item={"pk": S("x"), "ns": {"NS": []}}),
               "One or more parameter values were invalid: An number set  may not be empty")
    validation(lambda: ddb.put_item(TableName=tbl, Item={"pk": S("x"), "v": {}}),
               "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
    validation(lambda: ddb.put_item(TableName=tbl, Item={"pk": S("x"), "v": {"S": "a", "N": "1"}}),
               "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the "
               "supported datatypes")
    validation(lambda: ddb.put_item(TableName=tbl, Item={"pk": S("x"), "v": {"NULL": False}}),
               "One or more parameter values were invalid: Null attribute value types must have the value of true")
    # Empty strings and binaries are allowed outside keys.
    ddb.put_item(TableName=tbl, Item={"pk": S("x"), "e": S(""), "eb": {"B": b""}})
    assert get(ddb, tbl, {"pk": S("x")}) == {"pk": S("x"), "e": S(""), "eb": {"B": b""}}


def test_item_size_limit(ddb, tbl):
    # Size = name lengths + value lengths (UTF-8).  "pk" + "a" + "big" = 6 bytes.
    limit = 400 * 1024
    ddb.put_item(TableName=tbl, Item={"pk": S("a"), "big": S("x" * (limit - 6))})
    validation(lambda: ddb.put_item(TableName=tbl, Item={"pk": S("a"), "big": S("x" * (limit - 5))}),
               "Item size has exceeded the maximum allowed size")
    ddb.put_item(TableName=tbl, Item={"pk": S("a"), "big": S("x" * (limit - 100))})
    validation(lambda: ddb.update_item(TableName=tbl, Key={"pk": S("a")}, UpdateExpression="SET more = :v",
                                       ExpressionAttributeValues={":v": S("y" * 200)}),
               "Item size to update has exceeded the maximum allowed size")
    assert len(get(ddb, tbl, {"pk": S("a")})["big"]["S"]) == limit - 100


def test_expected_legacy_conditions(ddb, tbl):
    ddb.put_item(TableName=tbl, Item={"pk": S("L"), "v": N(5)})
    ddb.put_item(TableName=tbl, Item={"pk": S("L"), "v": N(6)}, Expected={"v": {"Value": N(5)}})
    expect_error(lambda: ddb.put_item(TableName=tbl, Item={"pk": S("L")}, Expected={"pk": {"Exists": False}}), CCF)
    ddb.put_item(TableName=tbl, Item={"pk": S("M")}, Expected={"pk": {"Exists": False}})
    ddb.delete_item(TableName=tbl, Key={"pk": S("L")}, Expected={
        "v": {"ComparisonOperator": "GT", "AttributeValueList": [N(5)]},
        "w": {"ComparisonOperator": "NULL"}}, ConditionalOperator="AND")
    assert get(ddb, tbl, {"pk": S("L")}) is None
    ddb.put_item(TableName=tbl, Item={"pk": S("L"), "v": N(1)}, Expected={
        "v": {"ComparisonOperator": "EQ", "AttributeValueList": [N(9)]},
        "pk": {"ComparisonOperator": "NULL"}}, ConditionalOperator="OR")
    validation(lambda: ddb.put_item(TableName=tbl, Item={"pk": S("L")}, Expected={"v": {"Value": N(1)}},
                                    ConditionExpression="attribute_exists(v)"),
               "Can not use both expression and non-expression parameters in the same request: "
               "Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}")


def test_attribute_updates_legacy(ddb, tbl):
    key = {"pk": S("AU")}
    ddb.put_item(TableName=tbl, Item={"pk": S("AU"), "n": N(1), "ss": {"SS": ["a", "b"]}, "x": S("x")})
    r = ddb.update_item(TableName=tbl, Key=key, ReturnValues="ALL_NEW", AttributeUpdates={
        "n": {"Action": "ADD", "Value": N(2)}, "ss": {"Action": "DELETE", "Value": {"SS": ["a"]}},
        "x": {"Action": "DELETE"}, "y": {"Action": "PUT", "Value": S("Y")}})
    assert r["Attributes"] == {"pk": S("AU"), "n": N(3), "ss": {"SS": ["b"]}, "y": S("Y")}
    validation(lambda: ddb.update_item(TableName=tbl, Key=key, AttributeUpdates={"n": {"Action": "ADD", "Value": N(1)}},
                                       UpdateExpression="SET n = :v", ExpressionAttributeValues={":v": N(1)}),
               "Can not use both expression and non-expression parameters in the same request: "
               "Non-expression parameters: {AttributeUpdates} Expression parameters: {UpdateExpression}")


def test_malformed_requests_survive(nimbus, ddb, tbl):
    st, body, _ = raw_call(nimbus, "PutItem", b"{not json")
    assert st == 400 and error_type(body) == "SerializationException"
    st, body, _ = raw_call(nimbus, "PutItem", {"TableName": tbl, "Item": {"pk": {"S": 5}}})
    assert st == 400 and error_type(body) == "SerializationException"
    st, body, _ = raw_call(nimbus, "PutItem", {"TableName": tbl, "Item": "notamap"})
    assert st == 400 and error_type(body) == "SerializationException"
    st, body, _ = raw_call(nimbus, "PutItem", {"TableName": tbl, "Item": {"pk": {"S": "a"}, "n": {"N": 5}}})
    assert st == 400 and error_type(body) in ("SerializationException", "ValidationException")
    st, body, _ = raw_call(nimbus, "PutItem", {"TableName": tbl, "Item": {"pk": {"S": "a"}, "x": {"Q": "a"}}})
    assert st == 400 and error_type(body) in ("SerializationException", "ValidationException")
    st, body, _ = raw_call(nimbus, "PutItem", {"TableName": tbl})
    assert st == 400 and error_type(body) == "ValidationException"
    assert body["message"] == ("1 validation error detected: Value null at 'item' failed to satisfy "
                               "constraint: Member must not be null")
    st, body, _ = raw_call(nimbus, "NoSuchOperation", {})
    assert st == 400 and error_type(body) == "UnknownOperationException"
    st, body, _ = raw_call(nimbus, "GetItem", [1, 2, 3])
    assert st == 400 and error_type(body) == "SerializationException"
    deep = {"pk": {"S": "deep"}, "d": {"M": {}}}
    cur = deep["d"]["M"]
    for _ in range(40):
        cur["x"] = {"M": {}}
        cur = cur["x"]["M"]
    st, body, _ = raw_call(nimbus, "PutItem", {"TableName": tbl, "Item": deep})
    assert st == 400 and error_type(body) == "ValidationException", body
    assert body["message"].startswith("Nesting Levels have exceeded supported limits"), body
    # Still serving.
    ddb.put_item(TableName=tbl, Item={"pk": S("after")})
    assert get(ddb, tbl, {"pk": S("after")}) == {"pk": S("after")}


def test_wrong_parameter_types(nimbus, ddb, tbl):
    raw = raw_client(nimbus)
    expect_error(lambda: raw.get_item(TableName=tbl, Key={"pk": S("a")}, ConsistentRead="yes"),
                 "SerializationException")
    expect_error(lambda: raw.scan(TableName=tbl, Limit="ten"), "SerializationException")
    validation(lambda: raw.scan(TableName=tbl, Limit=0),
               "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
               "Member must have value greater than or equal to 1")
    # AWS lists the enum's values in an order of its own; check the values, not the order.
    m = str(validation(lambda: raw.put_item(TableName=tbl, Item={"pk": S("a")}, ReturnValues="SOMETIMES"),
                       prefix="1 validation error detected: Value 'SOMETIMES' at 'returnValues' failed to "
                              "satisfy constraint: Member must satisfy enum value set: ["))
    assert sorted(m.rsplit("[", 1)[1].rstrip("]").split(", ")) == sorted(
        ["ALL_NEW", "UPDATED_OLD", "ALL_OLD", "NONE", "UPDATED_NEW"])

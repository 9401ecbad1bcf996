"""DynamoDB Query and Scan: key conditions (every sort key operator), order,
Limit/LastEvaluatedKey pagination, filters (Count vs ScannedCount), Select,
GSI/LSI queries and their projections, sparse indexes, parallel scans,
legacy KeyConditions/QueryFilter/ScanFilter.  Both boto3 generations."""
import pytest

from ddb_util import N, S, create_table, expect_error, query_all, scan_all, validation


@pytest.fixture
def q(ddb):
    """pk S, sk N; items p0..p2 x sk 0..9 with attrs; a GSI on (g, sk)
    projecting KEYS_ONLY, one INCLUDE on (h) with 'inc', an LSI on l."""
    create_table(ddb, "qscan", range_key=("sk", "N"),
                 gsis=[{"name": "gsi-keys", "hash": ("g", "S"), "range": ("sk", "N"), "projection": "KEYS_ONLY"},
                       {"name": "gsi-inc", "hash": ("h", "S"), "projection": "INCLUDE", "include": ["inc"]},
                       {"name": "gsi-all", "hash": ("g", "S"), "range": ("n", "N")}],
                 lsis=[{"name": "lsi", "range": ("l", "S"), "projection": "KEYS_ONLY"}])
    for p in range(3):
        for i in range(10):
            item = {"pk": S("p%d" % p), "sk": N(i), "n": N(i * 10 + p), "name": S("item-%d-%d" % (p, i)),
                    "g": S("even" if i % 2 == 0 else "odd"), "l": S(chr(ord("j") - i)), "inc": S("I"),
                    "other": S("O")}
            if i < 3:
                item["h"] = S("sparse")
            ddb.put_item(TableName="qscan", Item=item)
    return "qscan"


def sks(items):
    return [int(i["sk"]["N"]) for i in items]


def query(ddb, kce, values, **kw):
    return ddb.query(TableName="qscan", KeyConditionExpression=kce, ExpressionAttributeValues=values, **kw)


def test_sort_key_operators(ddb, q):
    p = {":p": S("p1")}
    assert sks(query(ddb, "pk = :p", p)["Items"]) == list(range(10))
    assert sks(query(ddb, "pk = :p AND sk = :v", dict(p, **{":v": N(3)}))["Items"]) == [3]
    assert sks(query(ddb, "pk = :p AND sk < :v", dict(p, **{":v": N(3)}))["Items"]) == [0, 1, 2]
    assert sks(query(ddb, "pk = :p AND sk <= :v", dict(p, **{":v": N(3)}))["Items"]) == [0, 1, 2, 3]
    assert sks(query(ddb, "pk = :p AND sk > :v", dict(p, **{":v": N(7)}))["Items"]) == [8, 9]
    assert sks(query(ddb, "pk = :p AND sk >= :v", dict(p, **{":v": N(7)}))["Items"]) == [7, 8, 9]
    assert sks(query(ddb, "pk = :p AND sk BETWEEN :a AND :b", dict(p, **{":a": N(2), ":b": N(4)}))["Items"]) == [2, 3, 4]
    assert sks(query(ddb, "sk BETWEEN :a AND :b AND pk = :p", dict(p, **{":a": N(2), ":b": N(2)}))["Items"]) == [2]
    assert sks(query(ddb, "(pk = :p) AND (sk > :v)", dict(p, **{":v": N(8)}))["Items"]) == [9]
    assert query(ddb, "pk = :p", {":p": S("none")})["Items"] == []


def test_begins_with_on_string_sort_key(ddb):
    create_table(ddb, "bwith", range_key=("sk", "S"))
    for sk in ("a", "ab", "abc", "b", "ab\u00e9"):
        ddb.put_item(TableName="bwith", Item={"pk": S("p"), "sk": S(sk)})
    r = ddb.query(TableName="bwith", KeyConditionExpression="pk = :p AND begins_with(sk, :b)",
                  ExpressionAttributeValues={":p": S("p"), ":b": S("ab")})
    assert [i["sk"]["S"] for i in r["Items"]] == ["ab", "abc", "ab\u00e9"]
    # Strings order by UTF-8 bytes.
    r = ddb.query(TableName="bwith", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("p")},
                  ScanIndexForward=False)
    assert [i["sk"]["S"] for i in r["Items"]] == ["b", "ab\u00e9", "abc", "ab", "a"]


def test_key_condition_errors(ddb, q):
    validation(lambda: query(ddb, "sk = :v", {":v": N(1)}),
               "Query condition missed key schema element: pk")
    # A condition on a non-key attribute (AWS's exact message not confirmed).
    validation(lambda: query(ddb, "pk = :p AND n = :v", {":p": S("p0"), ":v": N(1)}))
    validation(lambda: query(ddb, "pk = :p AND begins_with(sk, :v)", {":p": S("p0"), ":v": N(1)}),
               "Invalid KeyConditionExpression: Incorrect operand type for operator or function; "
               "operator or function: begins_with, operand type: N")
    validation(lambda: query(ddb, "pk = :p OR sk = :v", {":p": S("p0"), ":v": N(1)}),
               "Invalid operator used in KeyConditionExpression: OR")
    validation(lambda: query(ddb, "pk < :p", {":p": S("p0")}),
               "Query key condition not supported")
    validation(lambda: query(ddb, "pk = :p AND sk BETWEEN :b AND :a", {":p": S("p0"), ":a": N(1), ":b": N(5)}),
               "Invalid KeyConditionExpression: The BETWEEN operator requires upper bound to be greater than "
               "or equal to lower bound; lower bound operand: AttributeValue: {N:5}, upper bound operand: "
               "AttributeValue: {N:1}")
    validation(lambda: query(ddb, "pk = :p", {":p": N(1)}),
               "One or more parameter values were invalid: Condition parameter type does not match schema type")
    validation(lambda: ddb.query(TableName="qscan"),
               "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")
    validation(lambda: query(ddb, "pk = :p", {":p": S("p0")}, IndexName="nope"),
               "The table does not have the specified index: nope")
    validation(lambda: query(ddb, "g = :g", {":g": S("odd")}, IndexName="gsi-all", ConsistentRead=True),
               "Consistent reads are not supported on global secondary indexes")


def test_scan_index_forward_limit_and_pagination(ddb, q):
    p = {":p": S("p2")}
    assert sks(query(ddb, "pk = :p", p, ScanIndexForward=False)["Items"]) == list(range(9, -1, -1))
    r = query(ddb, "pk = :p", p, Limit=3)
    assert sks(r["Items"]) == [0, 1, 2] and r["Count"] == 3
    assert r["LastEvaluatedKey"] == {"pk": S("p2"), "sk": N(2)}
    items, pages = query_all(ddb, TableName="qscan", KeyConditionExpression="pk = :p", ExpressionAttributeValues=p,
                             Limit=3)
    assert sks(items) == list(range(10)) and pages == 4
    items, pages = query_all(ddb, TableName="qscan", KeyConditionExpression="pk = :p", ExpressionAttributeValues=p,
                             Limit=4, ScanIndexForward=False)
    assert sks(items) == list(range(9, -1, -1)) and pages == 3
    # Paginator (boto3's own loop) sees the same.
    pages = list(ddb.get_paginator("query").paginate(
        TableName="qscan", KeyConditionExpression="pk = :p", ExpressionAttributeValues=p,
        PaginationConfig={"PageSize": 5}))
    assert sks([i for pg in pages for i in pg["Items"]]) == list(range(10))
    validation(lambda: query(ddb, "pk = :p", p, ExclusiveStartKey={"pk": S("p2")}),
               "The provided starting key is invalid: The provided key element does not match the schema")


def test_filters_count_and_select(ddb, q):
    p = {":p": S("p0")}
    r = query(ddb, "pk = :p", dict(p, **{":g": S("even")}), FilterExpression="g = :g")
    assert sks(r["Items"]) == [0, 2, 4, 6, 8] and r["Count"] == 5 and r["ScannedCount"] == 10
    # Limit counts items read before the filter.
    r = query(ddb, "pk = :p", dict(p, **{":g": S("even")}), FilterExpression="g = :g", Limit=3)
    assert sks(r["Items"]) == [0, 2] and r["Count"] == 2 and r["ScannedCount"] == 3
    assert r["LastEvaluatedKey"] == {"pk": S("p0"), "sk": N(2)}
    r = query(ddb, "pk = :p", p, Select="COUNT")
    assert r["Count"] == 10 and r["ScannedCount"] == 10 and "Items" not in r
    r = query(ddb, "pk = :p", dict(p, **{":v": N(50)}), Select="COUNT", FilterExpression="n > :v")
    assert r["Count"] == 4 and r["ScannedCount"] == 10
    r = query(ddb, "pk = :p AND sk = :z", dict(p, **{":z": N(0)}), ProjectionExpression="#n, sk",
              ExpressionAttributeNames={"#n": "name"})
    assert r["Items"] == [{"name": S("item-0-0"), "sk": N(0)}]
    r = query(ddb, "pk = :p AND sk = :z", dict(p, **{":z": N(0)}), Select="SPECIFIC_ATTRIBUTES",
              ProjectionExpression="n")
    assert r["Items"] == [{"n": N(0)}]
    validation(lambda: query(ddb, "pk = :p", p, Select="SPECIFIC_ATTRIBUTES"),
               "Must specify the AttributesToGet or ProjectionExpression when choosing to get SPECIFIC_ATTRIBUTES")
    validation(lambda: query(ddb, "pk = :p", p, Select="ALL_ATTRIBUTES", ProjectionExpression="n"),
               "Cannot specify the ProjectionExpression when choosing to get ALL_ATTRIBUTES")
    validation(lambda: query(ddb, "pk = :p", p, Select="ALL_PROJECTED_ATTRIBUTES"),
               "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName")
    validation(lambda: query(ddb, "pk = :p", dict(p, **{":v": N(1)}), FilterExpression="sk = :v"),
               "Filter Expression can only contain non-primary key attributes: Primary key attribute: sk")
    validation(lambda: query(ddb, "pk = :p", dict(p, **{":v": N(1)}), FilterExpression="n = :v OR #k = :v",
                             ExpressionAttributeNames={"#k": "pk"}),
               "Filter Expression can only contain non-primary key attributes: Primary key attribute: pk")
    # On an index, the index's keys are the primary key; the table's sort key may be filtered.
    r = query(ddb, "g = :g", {":g": S("odd"), ":v": N(3)}, IndexName="gsi-all", FilterExpression="sk = :v")
    assert r["Count"] == 3
    validation(lambda: query(ddb, "g = :g", {":g": S("odd"), ":v": N(3)}, IndexName="gsi-all",
                             FilterExpression="n = :v"),
               "Filter Expression can only contain non-primary key attributes: Primary key attribute: n")


def test_gsi_projections(ddb, q):
    r = query(ddb, "g = :g", {":g": S("odd")}, IndexName="gsi-keys")
    assert r["Count"] == 15
    assert all(set(i) == {"pk", "sk", "g"} for i in r["Items"])
    # Ordered by the index's sort key (sk), ties in any order.
    assert sks(r["Items"]) == sorted(sks(r["Items"]))
    r = query(ddb, "g = :g AND sk > :v", {":g": S("odd"), ":v": N(6)}, IndexName="gsi-keys",
              ScanIndexForward=False)
    assert sks(r["Items"]) == [9, 9, 9, 7, 7, 7]
    validation(lambda: query(ddb, "g = :g", {":g": S("odd")}, IndexName="gsi-keys", Select="ALL_ATTRIBUTES"),
               "One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for "
               "global secondary index gsi-keys because its projection type is not ALL")
    # ALL projection: whole items, ordered by n.
    r = query(ddb, "g = :g AND n BETWEEN :a AND :b", {":g": S("even"), ":a": N(20), ":b": N(42)}, IndexName="gsi-all")
    assert [int(i["n"]["N"]) for i in r["Items"]] == [20, 21, 22, 40, 41, 42]
    assert r["Items"][0]["other"] == S("O") and r["Items"][0]["name"] == S("item-0-2")
    # INCLUDE + sparse: only items with h are in the index, with keys + inc.
    r = query(ddb, "h = :h", {":h": S("sparse")}, IndexName="gsi-inc")
    assert r["Count"] == 9
    assert all(set(i) == {"pk", "sk", "h", "inc"} for i in r["Items"])
    assert ddb.scan(TableName="qscan", IndexName="gsi-inc")["Count"] == 9
    # Pagination on an index: LastEvaluatedKey holds table and index keys.
    r = query(ddb, "h = :h", {":h": S("sparse")}, IndexName="gsi-inc", Limit=4)
    assert set(r["LastEvaluatedKey"]) == {"pk", "sk", "h"}
    items, pages = query_all(ddb, TableName="qscan", IndexName="gsi-inc", KeyConditionExpression="h = :h",
                             ExpressionAttributeValues={":h": S("sparse")}, Limit=4)
    assert len(items) == 9 and pages == 3
    assert len({(i["pk"]["S"], i["sk"]["N"]) for i in items}) == 9
    # Removing the index key takes the item out of a sparse index; changing it moves it.
    ddb.update_item(TableName="qscan", Key={"pk": S("p0"), "sk": N(0)}, UpdateExpression="REMOVE h")
    ddb.update_item(TableName="qscan", Key={"pk": S("p0"), "sk": N(1)}, UpdateExpression="SET h = :o",
                    ExpressionAttributeValues={":o": S("other")})
    assert query(ddb, "h = :h", {":h": S("sparse")}, IndexName="gsi-inc")["Count"] == 7
    assert query(ddb, "h = :h", {":h": S("other")}, IndexName="gsi-inc")["Count"] == 1
    ddb.delete_item(TableName="qscan", Key={"pk": S("p0"), "sk": N(1)})
    assert query(ddb, "h = :h", {":h": S("other")}, IndexName="gsi-inc")["Count"] == 0


def test_gsi_key_type_enforced(ddb, q):
    validation(lambda: ddb.put_item(TableName="qscan", Item={"pk": S("x"), "sk": N(1), "h": N(5)}),
               "One or more parameter values were invalid: Type mismatch for Index Key h Expected: S Actual: N "
               "IndexName: gsi-inc")
    validation(lambda: ddb.put_item(TableName="qscan", Item={"pk": S("x"), "sk": N(1), "h": S("")}),
               "One or more parameter values are not valid. A value specified for a secondary index key is not "
               "supported. The AttributeValue for a key attribute cannot contain an empty string value. "
               "IndexName: gsi-inc, IndexKey: h")


def test_lsi_query_fetches_unprojected(ddb, q):
    r = query(ddb, "pk = :p AND l < :l", {":p": S("p1"), ":l": S("d")}, IndexName="lsi")
    # l is chr('j' - i): a..c are i = 9, 8, 7 (ascending by l).
    assert sks(r["Items"]) == [9, 8, 7]
    assert all(set(i) == {"pk", "sk", "l"} for i in r["Items"])
    # LSIs may fetch attributes outside the projection from the table.
    r = query(ddb, "pk = :p AND l = :l", {":p": S("p1"), ":l": S("a")}, IndexName="lsi", Select="ALL_ATTRIBUTES")
    assert r["Items"][0]["other"] == S("O") and r["Items"][0]["name"] == S("item-1-9")
    r = query(ddb, "pk = :p AND l = :l", {":p": S("p1"), ":l": S("a")}, IndexName="lsi", ProjectionExpression="#n",
              ExpressionAttributeNames={"#n": "name"})
    assert r["Items"] == [{"name": S("item-1-9")}]
    r = query(ddb, "pk = :p", {":p": S("p1")}, IndexName="lsi", ConsistentRead=True, Select="COUNT")
    assert r["Count"] == 10


def test_scan_filters_and_pagination(ddb, q):
    r = ddb.scan(TableName="qscan", FilterExpression="n > :v", ExpressionAttributeValues={":v": N(85)})
    assert sorted(int(i["n"]["N"]) for i in r["Items"]) == [90, 91, 92]
    assert r["Count"] == 3 and r["ScannedCount"] == 30
    items, pages = scan_all(ddb, TableName="qscan", Limit=7)
    assert len(items) == 30 and pages == 5
    assert len({(i["pk"]["S"], i["sk"]["N"]) for i in items}) == 30
    r = ddb.scan(TableName="qscan", Select="COUNT", FilterExpression="g = :g", ExpressionAttributeValues={":g": S("odd")})
    assert r["Count"] == 15 and "Items" not in r
    # Items of one partition come out in sort key order.
    ordered = [i for i in items if i["pk"]["S"] == "p1"]
    assert sks(ordered) == list(range(10))
    paged = [i for pg in ddb.get_paginator("scan").paginate(TableName="qscan", PaginationConfig={"PageSize": 8})
             for i in pg["Items"]]
    assert len(paged) == 30


def test_parallel_scan_segments(ddb, q):
    seen = []
    for total in (1, 2, 3, 7):
        keys = []
        for seg in range(total):
            items, _ = scan_all(ddb, TableName="qscan", Segment=seg, TotalSegments=total, Limit=4)
            keys += [(i["pk"]["S"], i["sk"]["N"]) for i in items]
        assert len(keys) == 30 and len(set(keys)) == 30, total
        seen.append(total)
    validation(lambda: ddb.scan(TableName="qscan", Segment=3, TotalSegments=3),
               "The Segment parameter is zero-based and must be less than parameter TotalSegments: "
               "Segment: 3 is not less than TotalSegments: 3")
    validation(lambda: ddb.scan(TableName="qscan", TotalSegments=3),
               "The Segment parameter is required but was not present in the request when parameter "
               "TotalSegments is present")
    validation(lambda: ddb.scan(TableName="qscan", Segment=0),
               "The TotalSegments parameter is required but was not present in the request when Segment "
               "parameter is present")


def test_legacy_key_conditions_and_filters(ddb, q):
    r = ddb.query(TableName="qscan", KeyConditions={
        "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [S("p1")]},
        "sk": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [N(2), N(6)]}},
        QueryFilter={"g": {"ComparisonOperator": "EQ", "AttributeValueList": [S("even")]}},
        AttributesToGet=["sk", "g"])
    assert r["Items"] == [{"sk": N(i), "g": S("even")} for i in (2, 4, 6)]
    assert r["ScannedCount"] == 5
    r = ddb.query(TableName="qscan", KeyConditions={
        "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [S("p1")]},
        "sk": {"ComparisonOperator": "GE", "AttributeValueList": [N(8)]}})
    assert sks(r["Items"]) == [8, 9]
    r = ddb.scan(TableName="qscan", ScanFilter={
        "n": {"ComparisonOperator": "GE", "AttributeValueList": [N(90)]},
        "h": {"ComparisonOperator": "NOT_NULL"}}, ConditionalOperator="OR")
    assert r["Count"] == 12  # 3 with n >= 90 + 9 with h
    r = ddb.scan(TableName="qscan", ScanFilter={
        "name": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [S("item-2-")]},
        "sk": {"ComparisonOperator": "IN", "AttributeValueList": [N(1), N(3)]}})
    assert sorted(sks(r["Items"])) == [1, 3]
    r = ddb.scan(TableName="qscan", ScanFilter={"name": {"ComparisonOperator": "CONTAINS",
                                                      "AttributeValueList": [S("-1-")]}})
    assert r["Count"] == 10
    validation(lambda: ddb.query(TableName="qscan", KeyConditions={
        "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [S("p1")]}},
        KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("p1")}),
        "Can not use both expression and non-expression parameters in the same request: "
        "Non-expression parameters: {KeyConditions} Expression parameters: {KeyConditionExpression}")
    validation(lambda: ddb.scan(TableName="qscan", ScanFilter={"n": {"ComparisonOperator": "BETWEEN",
                                                                  "AttributeValueList": [N(1)]}}),
               "One or more parameter values were invalid: Invalid number of argument(s) for the BETWEEN "
               "ComparisonOperator")

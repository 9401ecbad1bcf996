"""DynamoDB PartiQL: ExecuteStatement, BatchExecuteStatement, ExecuteTransaction.

Runs against the real binary through boto3 (both generations, tests/run.sh).
"""
import pytest
from botocore.exceptions import ClientError

from conftest import BOTO_GEN

# ReturnValuesOnConditionCheckFailure arrived in botocore 1.31 (the "new" generation).
RVCF = BOTO_GEN == "new"


def make_table(ddb, name="Tab", sort=True, gsi=False):
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    if sort:
        attrs.append({"AttributeName": "sk", "AttributeType": "N"})
        keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
    kw = {}
    if gsi:
        attrs.append({"AttributeName": "g", "AttributeType": "S"})
        kw["GlobalSecondaryIndexes"] = [{
            "IndexName": "byG",
            "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }]
    ddb.create_table(TableName=name, AttributeDefinitions=attrs, KeySchema=keys,
                     BillingMode="PAY_PER_REQUEST", **kw)


def run(ddb, stmt, params=None, **kw):
    if params is not None:
        kw["Parameters"] = params
    return ddb.execute_statement(Statement=stmt, **kw)


def error(fn, *a, **kw):
    with pytest.raises(ClientError) as e:
        fn(*a, **kw)
    return e.value.response


def fill(ddb, n=3, parts=("a", "b")):
    for p in parts:
        for i in range(n):
            ddb.put_item(TableName="Tab", Item={"pk": {"S": p}, "sk": {"N": str(i)}, "v": {"N": str(i * 10)},
                                              "tag": {"S": "t%d" % i}})


def test_insert_select_roundtrip(ddb):
    make_table(ddb)
    run(ddb, """INSERT INTO "Tab" VALUE {'pk': 'k', 'sk': 1, 's': 'it''s', 'n': -1.50, 'b': true,
             'z': null, 'ss': <<'x', 'y'>>, 'ns': <<1, 2>>, 'm': {'a': [1, 'two', {'deep': 3}]}}""")
    item = ddb.get_item(TableName="Tab", Key={"pk": {"S": "k"}, "sk": {"N": "1"}})["Item"]
    assert item["s"] == {"S": "it's"}
    assert item["n"] == {"N": "-1.5"}
    assert item["b"] == {"BOOL": True}
    assert item["z"] == {"NULL": True}
    assert sorted(item["ss"]["SS"]) == ["x", "y"]
    assert sorted(item["ns"]["NS"]) == ["1", "2"]
    assert item["m"] == {"M": {"a": {"L": [{"N": "1"}, {"S": "two"}, {"M": {"deep": {"N": "3"}}}]}}}
    out = run(ddb, 'SELECT * FROM "Tab" WHERE pk = \'k\' AND sk = 1')
    assert out["Items"] == [item]


def test_insert_duplicate(ddb):
    make_table(ddb)
    run(ddb, "INSERT INTO Tab VALUE {'pk': 'a', 'sk': 1}")
    r = error(run, ddb, "INSERT INTO Tab VALUE {'pk': 'a', 'sk': 1, 'x': 2}")
    assert r["Error"]["Code"] == "DuplicateItemException"
    assert r["Error"]["Message"] == "Duplicate primary key exists in table"


def test_insert_validation(ddb):
    make_table(ddb)
    r = error(run, ddb, "INSERT INTO Tab VALUE {'pk': 'a'}")
    assert r["Error"]["Code"] == "ValidationException"
    r = error(run, ddb, "INSERT INTO Tab VALUE {'pk': 'a', 'sk': 'notnum'}")
    assert "Type mismatch" in r["Error"]["Message"]


def test_parameters(ddb):
    make_table(ddb)
    run(ddb, "INSERT INTO Tab VALUE {'pk': ?, 'sk': ?, 'v': ?}",
        [{"S": "p"}, {"N": "5"}, {"M": {"x": {"S": "y"}}}])
    out = run(ddb, "SELECT v FROM Tab WHERE pk = ? AND sk = ?", [{"S": "p"}, {"N": "5"}])
    assert out["Items"] == [{"v": {"M": {"x": {"S": "y"}}}}]
    r = error(run, ddb, "SELECT * FROM Tab WHERE pk = ? AND sk = ?", [{"S": "p"}])
    assert r["Error"]["Message"] == "Number of parameters in request and statement don't match."


def test_syntax_errors(ddb):
    make_table(ddb)
    for bad in ["SELECT * FROM", "SELEC * FROM Tab", "SELECT * FROM Tab WHERE", "INSERT INTO Tab",
                "SELECT * FROM Tab WHERE pk = 'a' pk", "DELETE Tab WHERE pk = 'a'", "SELECT * FROM Tab; SELECT 1",
                "SELECT * FROM Tab WHERE (pk = 'a'", "SELECT * FROM Tab WHERE pk = 'unterminated"]:
        r = error(run, ddb, bad)
        assert r["Error"]["Code"] == "ValidationException", bad
        assert r["Error"]["Message"].startswith("Statement wasn't well formed, can't be processed:"), bad


def test_unknown_table_and_index(ddb):
    make_table(ddb)
    r = error(run, ddb, 'SELECT * FROM "Nope"')
    assert r["Error"]["Code"] == "ResourceNotFoundException"
    r = error(run, ddb, 'SELECT * FROM "Tab"."nope"')
    assert r["Error"]["Code"] == "ValidationException"


def test_select_query_scan_filters(ddb):
    make_table(ddb)
    fill(ddb, 5)
    q = run(ddb, "SELECT sk FROM Tab WHERE pk = 'a' AND sk >= 2")
    assert [i["sk"]["N"] for i in q["Items"]] == ["2", "3", "4"]
    q = run(ddb, "SELECT sk FROM Tab WHERE pk = 'a' AND sk BETWEEN 1 AND 3 ORDER BY sk DESC")
    assert [i["sk"]["N"] for i in q["Items"]] == ["3", "2", "1"]
    q = run(ddb, "SELECT pk, sk FROM Tab WHERE pk IN ['b', 'a'] AND sk = 0")
    assert [(i["pk"]["S"], i["sk"]["N"]) for i in q["Items"]] == [("a", "0"), ("b", "0")]
    q = run(ddb, "SELECT pk FROM Tab WHERE pk = 'a' OR pk = 'b'")
    assert len(q["Items"]) == 10
    q = run(ddb, "SELECT * FROM Tab WHERE v > 20")
    assert sorted(int(i["v"]["N"]) for i in q["Items"]) == [30, 30, 40, 40]
    q = run(ddb, "SELECT * FROM Tab WHERE begins_with(tag, 't1') OR contains(tag, '4')")
    assert len(q["Items"]) == 4
    q = run(ddb, "SELECT * FROM Tab WHERE pk = 'a' AND nothere IS MISSING AND tag IS NOT MISSING")
    assert len(q["Items"]) == 5
    q = run(ddb, "SELECT * FROM Tab WHERE size(tag) = 2 AND attribute_type(tag, 'S') AND NOT v = 0")
    assert len(q["Items"]) == 8
    q = run(ddb, "SELECT * FROM Tab WHERE v <> 10 AND v IN (0, 10, 20)")
    assert len(q["Items"]) == 4
    # comments, lower case, trailing semicolon
    q = run(ddb, "select sk from \"Tab\" -- a comment\n where pk = 'a' /* and */ and sk = 1;")
    assert q["Items"] == [{"sk": {"N": "1"}}]


def test_nested_paths_and_projection(ddb):
    make_table(ddb, sort=False)
    run(ddb, "INSERT INTO Tab VALUE {'pk': 'a', 'm': {'k': [10, 20], 'z': 'zz'}, 'l': [1, 2, 3]}")
    q = run(ddb, "SELECT m.k[1], l[0], m.z FROM Tab WHERE pk = 'a'")
    assert q["Items"] == [{"k[1]": {"N": "20"}, "l[0]": {"N": "1"}, "z": {"S": "zz"}}]
    q = run(ddb, "SELECT pk FROM Tab WHERE m.k[0] = 10 AND \"m\".\"z\" = 'zz'")
    assert q["Items"] == [{"pk": {"S": "a"}}]
    r = error(run, ddb, "SELECT m.z, z FROM Tab")
    assert r["Error"]["Message"] == "Duplicate identifiers in select clause: z"


def test_pagination(ddb):
    make_table(ddb)
    fill(ddb, 5)
    seen, tok, pages = [], None, 0
    while True:
        kw = {"Limit": 3}
        if tok:
            kw["NextToken"] = tok
        out = run(ddb, "SELECT pk, sk FROM Tab", **kw)
        pages += 1
        seen += [(i["pk"]["S"], i["sk"]["N"]) for i in out["Items"]]
        tok = out.get("NextToken")
        if not tok:
            break
    assert pages == 4
    assert sorted(seen) == sorted((p, str(i)) for p in "ab" for i in range(5))
    # across partitions of an IN
    seen, tok = [], None
    while True:
        kw = {"Limit": 2}
        if tok:
            kw["NextToken"] = tok
        out = run(ddb, "SELECT sk FROM Tab WHERE pk IN ['a', 'b'] AND sk < 3", **kw)
        seen += [i["sk"]["N"] for i in out["Items"]]
        tok = out.get("NextToken")
        if not tok:
            break
    assert seen == ["0", "1", "2", "0", "1", "2"]
    out = run(ddb, "SELECT pk, sk FROM Tab", Limit=3)
    r = error(run, ddb, "SELECT pk FROM Tab", NextToken=out["NextToken"])
    assert r["Error"]["Code"] == "ValidationException"
    r = error(run, ddb, "SELECT pk, sk FROM Tab", NextToken="garbage")
    assert r["Error"]["Message"] == "Invalid NextToken"


def test_index_select(ddb):
    make_table(ddb, gsi=True)
    ddb.put_item(TableName="Tab", Item={"pk": {"S": "a"}, "sk": {"N": "1"}, "g": {"S": "G"}, "x": {"S": "no"}})
    ddb.put_item(TableName="Tab", Item={"pk": {"S": "b"}, "sk": {"N": "2"}, "g": {"S": "H"}})
    q = run(ddb, 'SELECT * FROM "Tab"."byG" WHERE g = \'G\'', ReturnConsumedCapacity="TOTAL")
    assert q["Items"] == [{"pk": {"S": "a"}, "sk": {"N": "1"}, "g": {"S": "G"}}]
    assert q["ConsumedCapacity"]["TableName"] == "Tab"
    q = run(ddb, 'SELECT pk FROM "Tab"."byG"')
    assert sorted(i["pk"]["S"] for i in q["Items"]) == ["a", "b"]
    r = error(run, ddb, 'SELECT * FROM "Tab"."byG" WHERE g = \'G\'', ConsistentRead=True)
    assert r["Error"]["Code"] == "ValidationException"


def test_update(ddb):
    make_table(ddb)
    run(ddb, "INSERT INTO Tab VALUE {'pk': 'a', 'sk': 1, 'n': 1, 'l': [1], 'gone': 'x', 's': <<'a'>>}")
    out = run(ddb, "UPDATE Tab SET n = n + 5, l = list_append(l, [2, 3]), s = set_add(s, <<'b'>>), m = {'x': 1} "
                   "SET m2 = 'y' REMOVE gone WHERE pk = 'a' AND sk = 1 RETURNING ALL NEW *")
    item = out["Items"][0]
    assert item["n"] == {"N": "6"}
    assert item["l"] == {"L": [{"N": "1"}, {"N": "2"}, {"N": "3"}]}
    assert sorted(item["s"]["SS"]) == ["a", "b"]
    assert item["m"] == {"M": {"x": {"N": "1"}}} and item["m2"] == {"S": "y"}
    assert "gone" not in item
    out = run(ddb, "UPDATE Tab SET m.x = 2 WHERE pk = 'a' AND sk = 1 RETURNING MODIFIED OLD *")
    assert out["Items"] == [{"m": {"M": {"x": {"N": "1"}}}}]
    out = run(ddb, "UPDATE Tab SET n = n - 1 WHERE pk = 'a' AND sk = 1 AND n = 6 RETURNING MODIFIED NEW *")
    assert out["Items"] == [{"n": {"N": "5"}}]
    out = run(ddb, "UPDATE Tab SET s = set_delete(s, <<'a', 'b'>>) WHERE pk = 'a' AND sk = 1 RETURNING ALL NEW *")
    assert "s" not in out["Items"][0]
    out = run(ddb, "UPDATE Tab SET q = 1 WHERE pk = 'a' AND sk = 1")
    assert out["Items"] == []


def test_update_errors(ddb):
    make_table(ddb)
    run(ddb, "INSERT INTO Tab VALUE {'pk': 'a', 'sk': 1, 'n': 1}")
    r = error(run, ddb, "UPDATE Tab SET n = 2 WHERE pk = 'a'")
    assert r["Error"]["Message"] == "Where clause does not contain a mandatory equality on all key attributes"
    r = error(run, ddb, "UPDATE Tab SET n = 2 WHERE pk = 'zz' AND sk = 1")
    assert r["Error"]["Code"] == "ConditionalCheckFailedException"
    kw = {"ReturnValuesOnConditionCheckFailure": "ALL_OLD"} if RVCF else {}
    r = error(run, ddb, "UPDATE Tab SET n = 2 WHERE pk = 'a' AND sk = 1 AND n = 7", **kw)
    assert r["Error"]["Code"] == "ConditionalCheckFailedException"
    if RVCF:
        assert r["Item"]["n"] == {"N": "1"}
    r = error(run, ddb, "UPDATE Tab SET sk = 2 WHERE pk = 'a' AND sk = 1")
    assert r["Error"]["Code"] == "ValidationException"
    r = error(run, ddb, "UPDATE Tab SET n = nothere + 1 WHERE pk = 'a' AND sk = 1")
    assert r["Error"]["Code"] == "ValidationException"
    r = error(run, ddb, "UPDATE Tab SET n = 2 WHERE pk = 'a' AND sk = 'x'")
    assert r["Error"]["Code"] == "ValidationException"


def test_delete(ddb):
    make_table(ddb)
    run(ddb, "INSERT INTO Tab VALUE {'pk': 'a', 'sk': 1, 'n': 1}")
    r = error(run, ddb, "DELETE FROM Tab WHERE pk = 'a' AND sk = 1 AND n = 2")
    assert r["Error"]["Code"] == "ConditionalCheckFailedException"
    out = run(ddb, "DELETE FROM Tab WHERE pk = 'a' AND sk = 1 RETURNING ALL OLD *")
    assert out["Items"][0]["n"] == {"N": "1"}
    assert "Item" not in ddb.get_item(TableName="Tab", Key={"pk": {"S": "a"}, "sk": {"N": "1"}})
    assert run(ddb, "DELETE FROM Tab WHERE pk = 'a' AND sk = 1")["Items"] == []
    r = error(run, ddb, "DELETE FROM Tab WHERE pk = 'a' AND sk = 1 RETURNING ALL NEW *")
    assert r["Error"]["Code"] == "ValidationException"
    r = error(run, ddb, "DELETE FROM Tab WHERE n = 1")
    assert r["Error"]["Message"] == "Where clause does not contain a mandatory equality on all key attributes"


def test_writes_keep_indexes_and_streams(ddb, ddb_streams):
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "g", "AttributeType": "S"}]
    ddb.create_table(TableName="Str", AttributeDefinitions=attrs,
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
                     GlobalSecondaryIndexes=[{"IndexName": "byG",
                                              "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                              "Projection": {"ProjectionType": "ALL"}}],
                     StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    run(ddb, "INSERT INTO Str VALUE {'pk': 'a', 'g': 'one'}")
    run(ddb, "UPDATE Str SET g = 'two' WHERE pk = 'a'")
    assert ddb.query(TableName="Str", IndexName="byG", KeyConditionExpression="g = :g",
                     ExpressionAttributeValues={":g": {"S": "one"}})["Count"] == 0
    assert ddb.query(TableName="Str", IndexName="byG", KeyConditionExpression="g = :g",
                     ExpressionAttributeValues={":g": {"S": "two"}})["Count"] == 1
    r = error(run, ddb, "UPDATE Str SET g = 5 WHERE pk = 'a'")
    assert r["Error"]["Code"] == "ValidationException"
    run(ddb, "DELETE FROM Str WHERE pk = 'a'")
    arn = ddb.describe_table(TableName="Str")["Table"]["LatestStreamArn"]
    shard = ddb_streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    it = ddb_streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    events = [r["eventName"] for r in ddb_streams.get_records(ShardIterator=it)["Records"]]
    assert events == ["INSERT", "MODIFY", "REMOVE"]


def test_consumed_capacity(ddb):
    make_table(ddb)
    out = run(ddb, "INSERT INTO Tab VALUE {'pk': 'a', 'sk': 1}", ReturnConsumedCapacity="TOTAL")
    assert out["ConsumedCapacity"]["CapacityUnits"] == 1.0
    out = run(ddb, "SELECT * FROM Tab WHERE pk = 'a'", ReturnConsumedCapacity="TOTAL", ConsistentRead=True)
    assert out["ConsumedCapacity"]["TableName"] == "Tab"


def test_batch_reads_and_writes(ddb):
    make_table(ddb)
    out = ddb.batch_execute_statement(Statements=[
        {"Statement": "INSERT INTO Tab VALUE {'pk': 'a', 'sk': 1, 'v': 1}"},
        {"Statement": "INSERT INTO Tab VALUE {'pk': 'b', 'sk': 1}"},
        {"Statement": "INSERT INTO Tab VALUE {'pk': 'a', 'sk': 1}"},
        {"Statement": "UPDATE Tab SET v = 2 WHERE pk = 'zz' AND sk = 1"},
        {"Statement": "INSERT INTO Nope VALUE {'pk': 'a'}"},
        {"Statement": "INSERT INTO Tab VALU"},
    ])["Responses"]
    assert "Error" not in out[0] and out[0]["TableName"] == "Tab"
    assert "Error" not in out[1]
    assert out[2]["Error"]["Code"] == "DuplicateItem"
    assert out[3]["Error"]["Code"] == "ConditionalCheckFailed"
    assert out[4]["Error"]["Code"] == "ResourceNotFound"
    assert out[5]["Error"]["Code"] == "ValidationError"
    out = ddb.batch_execute_statement(Statements=[
        {"Statement": "SELECT * FROM Tab WHERE pk = ? AND sk = ?", "Parameters": [{"S": "a"}, {"N": "1"}]},
        {"Statement": "SELECT * FROM Tab WHERE pk = 'missing' AND sk = 1"},
        {"Statement": "SELECT * FROM Tab WHERE pk = 'a'"},
    ], ReturnConsumedCapacity="TOTAL")
    assert out["Responses"][0]["Item"]["v"] == {"N": "1"}
    assert "Item" not in out["Responses"][1] and "Error" not in out["Responses"][1]
    assert out["Responses"][2]["Error"]["Code"] == "ValidationError"
    assert out["ConsumedCapacity"][0]["TableName"] == "Tab"
    r = error(ddb.batch_execute_statement, Statements=[
        {"Statement": "SELECT * FROM Tab WHERE pk = 'a' AND sk = 1"},
        {"Statement": "DELETE FROM Tab WHERE pk = 'a' AND sk = 1"}])
    assert r["Error"]["Message"] == "Read and write requests together in the same batch is not supported."


@pytest.mark.skipif(not RVCF, reason="botocore too old for ReturnValuesOnConditionCheckFailure")
def test_batch_condition_item(ddb):
    make_table(ddb)
    run(ddb, "INSERT INTO Tab VALUE {'pk': 'a', 'sk': 1, 'v': 1}")
    out = ddb.batch_execute_statement(Statements=[
        {"Statement": "UPDATE Tab SET v = 3 WHERE pk = 'a' AND sk = 1 AND v = 2",
         "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}])["Responses"]
    assert out[0]["Error"]["Code"] == "ConditionalCheckFailed"
    assert out[0]["Error"]["Item"]["v"] == {"N": "1"}


def test_transaction_writes(ddb):
    make_table(ddb)
    run(ddb, "INSERT INTO Tab VALUE {'pk': 'a', 'sk': 1, 'v': 1}")
    ddb.execute_transaction(TransactStatements=[
        {"Statement": "INSERT INTO Tab VALUE {'pk': 'b', 'sk': 1}"},
        {"Statement": "UPDATE Tab SET v = v + 1 WHERE pk = 'a' AND sk = 1"},
    ])
    assert run(ddb, "SELECT v FROM Tab WHERE pk = 'a' AND sk = 1")["Items"] == [{"v": {"N": "2"}}]
    r = error(ddb.execute_transaction, TransactStatements=[
        {"Statement": "INSERT INTO Tab VALUE {'pk': 'c', 'sk': 1}"},
        dict({"Statement": "UPDATE Tab SET v = 9 WHERE pk = 'a' AND sk = 1 AND v = 100"},
             **({"ReturnValuesOnConditionCheckFailure": "ALL_OLD"} if RVCF else {})),
        {"Statement": "INSERT INTO Tab VALUE {'pk': 'b', 'sk': 1}"},
    ])
    assert r["Error"]["Code"] == "TransactionCanceledException"
    reasons = r["CancellationReasons"]
    assert [x["Code"] for x in reasons] == ["None", "ConditionalCheckFailed", "DuplicateItem"]
    if RVCF:
        assert reasons[1]["Item"]["v"] == {"N": "2"}
    assert run(ddb, "SELECT * FROM Tab WHERE pk = 'c'")["Items"] == []
    # EXISTS as a condition check
    r = error(ddb.execute_transaction, TransactStatements=[
        {"Statement": "EXISTS(SELECT * FROM Tab WHERE pk = 'a' AND sk = 1 AND v = 5)"},
        {"Statement": "DELETE FROM Tab WHERE pk = 'b' AND sk = 1"},
    ])
    assert [x["Code"] for x in r["CancellationReasons"]] == ["ConditionalCheckFailed", "None"]
    ddb.execute_transaction(TransactStatements=[
        {"Statement": "EXISTS(SELECT * FROM Tab WHERE pk = 'a' AND sk = 1 AND v = 2)"},
        {"Statement": "DELETE FROM Tab WHERE pk = 'b' AND sk = 1"},
    ])
    assert run(ddb, "SELECT * FROM Tab WHERE pk = 'b'")["Items"] == []
    r = error(ddb.execute_transaction, TransactStatements=[
        {"Statement": "UPDATE Tab SET v = 1 WHERE pk = 'a' AND sk = 1"},
        {"Statement": "DELETE FROM Tab WHERE pk = 'a' AND sk = 1"},
    ])
    assert r["Error"]["Code"] == "ValidationException"
    r = error(ddb.execute_transaction, TransactStatements=[
        {"Statement": "SELECT * FROM Tab WHERE pk = 'a' AND sk = 1"},
        {"Statement": "DELETE FROM Tab WHERE pk = 'a' AND sk = 1"},
    ])
    assert r["Error"]["Message"] == \
        "ExecuteTransaction API does not support both read and write operations in the same request."
    r = error(ddb.execute_statement, Statement="EXISTS(SELECT * FROM Tab WHERE pk = 'a' AND sk = 1)")
    assert r["Error"]["Code"] == "ValidationException"


def test_transaction_reads(ddb):
    make_table(ddb)
    run(ddb, "INSERT INTO Tab VALUE {'pk': 'a', 'sk': 1, 'v': 1}")
    out = ddb.execute_transaction(TransactStatements=[
        {"Statement": "SELECT v FROM Tab WHERE pk = 'a' AND sk = 1"},
        {"Statement": "SELECT * FROM Tab WHERE pk = 'x' AND sk = 1"},
    ])
    assert out["Responses"] == [{"Item": {"v": {"N": "1"}}}, {}]
    r = error(ddb.execute_transaction, TransactStatements=[{"Statement": "SELECT * FROM Tab WHERE pk = 'a'"}])
    assert r["Error"]["Message"] == \
        "Select statements within ExecuteTransaction must specify the primary key in the where clause."


def test_transaction_token(ddb):
    make_table(ddb)
    stmts = [{"Statement": "INSERT INTO Tab VALUE {'pk': 'a', 'sk': 1}"}]
    ddb.execute_transaction(TransactStatements=stmts, ClientRequestToken="tok-1")
    ddb.execute_transaction(TransactStatements=stmts, ClientRequestToken="tok-1")  # replay: no duplicate
    r = error(ddb.execute_transaction, ClientRequestToken="tok-1",
              TransactStatements=[{"Statement": "INSERT INTO Tab VALUE {'pk': 'b', 'sk': 1}"}])
    assert r["Error"]["Code"] == "IdempotentParameterMismatchException"
    r = error(ddb.execute_transaction, TransactStatements=stmts, ClientRequestToken="tok-2")
    assert r["Error"]["Code"] == "TransactionCanceledException"


def pages(ddb, stmt, limit, **kw):
    out, tok = [], None
    while True:
        args = dict(kw, Limit=limit)
        if tok:
            args["NextToken"] = tok
        r = run(ddb, stmt, **args)
        out += r["Items"]
        tok = r.get("NextToken")
        if not tok:
            return out


def test_pagination_descending_and_index(ddb):
    make_table(ddb, gsi=True)
    for i in range(7):
        ddb.put_item(TableName="Tab", Item={"pk": {"S": "a"}, "sk": {"N": str(i)}, "g": {"S": "G%d" % (i % 2)}})
    got = pages(ddb, "SELECT sk FROM Tab WHERE pk = 'a' ORDER BY sk DESC", 2)
    assert [i["sk"]["N"] for i in got] == ["6", "5", "4", "3", "2", "1", "0"]
    got = pages(ddb, "SELECT sk FROM Tab WHERE pk = 'a' AND sk > 1 AND sk <= 5", 1)
    assert [i["sk"]["N"] for i in got] == ["2", "3", "4", "5"]
    got = pages(ddb, 'SELECT sk FROM "Tab"."byG" WHERE g = \'G1\'', 1)
    assert sorted(i["sk"]["N"] for i in got) == ["1", "3", "5"]
    got = pages(ddb, 'SELECT sk, g FROM "Tab"."byG"', 3)
    assert sorted(i["sk"]["N"] for i in got) == [str(i) for i in range(7)]
    r = error(run, ddb, "SELECT * FROM Tab WHERE sk = 1 ORDER BY sk")
    assert r["Error"]["Code"] == "ValidationException"
    r = error(run, ddb, "SELECT * FROM Tab WHERE pk = 'a' ORDER BY g")
    assert r["Error"]["Code"] == "ValidationException"

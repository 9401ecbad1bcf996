"""API Gateway v2 ImportApi, ReimportApi and ExportApi: HTTP APIs from
OpenAPI 3.0 definitions (JSON and YAML) that then serve traffic, exports
of the current configuration and of a stage, and bad definitions."""
import json

import botocore
import pytest

from test_apigwv2_data import fn_arn, req

try:
    import yaml
except ImportError:  # pragma: no cover - Debian's python3-yaml is a dependency
    yaml = None


@pytest.fixture
def lmb(client):
    return client("lambda")


def definition(fn, title="orders"):
    uri = ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/%s/invocations" % fn)
    integ = {"type": "aws_proxy", "httpMethod": "POST", "uri": uri,
             "payloadFormatVersion": "2.0", "connectionType": "INTERNET"}
    return {
        "openapi": "3.0.1",
        "info": {"title": title, "version": "2024-01-01", "description": "the orders service"},
        "x-amazon-apigateway-cors": {"allowOrigins": ["https://shop.example"],
                                     "allowMethods": ["GET", "POST"], "maxAge": 300},
        "paths": {
            "/orders": {
                "get": {"operationId": "listOrders", "x-amazon-apigateway-integration": integ},
                "post": {"x-amazon-apigateway-integration": {
                    "$ref": "#/components/x-amazon-apigateway-integrations/fn"},
                    "security": [{"jwt": ["orders/write"]}]},
            },
            "/orders/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "x-amazon-apigateway-any-method": {"x-amazon-apigateway-integration": integ},
            },
            "/mock": {"get": {"x-amazon-apigateway-integration": {"type": "mock"}}},
        },
        "components": {
            "x-amazon-apigateway-integrations": {"fn": integ},
            "securitySchemes": {"jwt": {"type": "oauth2", "flows": {},
                                        "x-amazon-apigateway-authorizer": {
                "type": "jwt", "identitySource": "$request.header.Authorization",
                "jwtConfiguration": {"issuer": "https://issuer.example",
                                     "audience": ["orders"]}}}},
        },
    }


def routes(apigwv2, api):
    return {r["RouteKey"]: r for r in apigwv2.get_routes(ApiId=api)["Items"]}


def test_import_json_builds_routes_integrations_authorizers_and_serves(nimbus, lmb, apigwv2):
    fn = fn_arn(lmb, "oas1")
    r = apigwv2.import_api(Body=json.dumps(definition(fn)))
    api = r["ApiId"]
    assert r["Name"] == "orders" and r["Version"] == "2024-01-01"
    assert r["Description"] == "the orders service" and r["ProtocolType"] == "HTTP"
    assert r["CorsConfiguration"]["AllowOrigins"] == ["https://shop.example"]
    assert r["CorsConfiguration"]["MaxAge"] == 300
    assert any("mock" in w for w in r["Warnings"]), r.get("Warnings")
    rs = routes(apigwv2, api)
    assert set(rs) == {"GET /orders", "POST /orders", "ANY /orders/{id}", "GET /mock"}
    assert rs["GET /orders"]["OperationName"] == "listOrders"
    assert "Target" not in rs["GET /mock"]  # an unsupported integration: a warning, no target
    integs = apigwv2.get_integrations(ApiId=api)["Items"]
    assert len(integs) == 1, "operations with the same integration share it"
    ig = integs[0]
    assert ig["IntegrationType"] == "AWS_PROXY" and ig["PayloadFormatVersion"] == "2.0"
    assert rs["GET /orders"]["Target"] == "integrations/" + ig["IntegrationId"]
    assert rs["POST /orders"]["Target"] == "integrations/" + ig["IntegrationId"]
    az = apigwv2.get_authorizers(ApiId=api)["Items"]
    assert len(az) == 1 and az[0]["Name"] == "jwt" and az[0]["AuthorizerType"] == "JWT"
    assert az[0]["JwtConfiguration"] == {"Issuer": "https://issuer.example", "Audience": ["orders"]}
    post = rs["POST /orders"]
    assert post["AuthorizationType"] == "JWT" and post["AuthorizerId"] == az[0]["AuthorizerId"]
    assert post["AuthorizationScopes"] == ["orders/write"]
    assert rs["GET /orders"]["AuthorizationType"] == "NONE"

    apigwv2.create_stage(ApiId=api, StageName="$default", AutoDeploy=True)
    host = f"{api}.execute-api.localhost:{nimbus.port}"
    st, _, b = req(nimbus, "DELETE", "/orders/42", host=host)
    assert st == 201, b
    ev = json.loads(b)
    assert ev["routeKey"] == "ANY /orders/{id}" and ev["pathParameters"] == {"id": "42"}
    st, _, b = req(nimbus, "POST", "/orders", host=host)
    assert st == 401  # the imported JWT authorizer guards it


def test_import_yaml_with_failonwarnings_and_basepath(nimbus, lmb, apigwv2):
    fn = fn_arn(lmb, "oas2")
    body = f"""
openapi: 3.0.1
info:
  title: Lambda API
  version: 1.0
servers:
  - url: https://api.example.com/{{basePath}}
    variables:
      basePath:
        default: v1
paths:
  /hello:
    x-amazon-apigateway-any-method:
      x-amazon-apigateway-integration:
        payloadFormatVersion: 2.0
        type: aws_proxy
        httpMethod: POST
        uri: {fn}
        connectionType: INTERNET
  /legacy:
    get:
      x-amazon-apigateway-integration:
        type: aws
        uri: arn:aws:apigateway:us-east-1:sqs:path/1/q
"""
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigwv2.import_api(Body=body, FailOnWarnings=True)
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    assert "Warnings found during import" in e.value.response["Error"]["Message"]
    assert not any(a["Name"] == "Lambda API" for a in apigwv2.get_apis()["Items"]), \
        "a refused import leaves nothing behind"
    r = apigwv2.import_api(Body=body, Basepath="prepend")
    assert r["Version"] == "1.0"  # YAML's 1.0 keeps its text
    rs = routes(apigwv2, r["ApiId"])
    assert set(rs) == {"ANY /v1/hello", "GET /v1/legacy"}
    ig = apigwv2.get_integrations(ApiId=r["ApiId"])["Items"][0]
    assert ig["PayloadFormatVersion"] == "2.0" and ig["IntegrationUri"] == fn


def test_export_round_trips_through_reimport(nimbus, lmb, apigwv2):
    fn = fn_arn(lmb, "oas3")
    api = apigwv2.import_api(Body=json.dumps(definition(fn)))["ApiId"]
    out = apigwv2.export_api(ApiId=api, Specification="OAS30", OutputType="JSON")
    doc = json.loads(out["body"].read())
    assert doc["openapi"] == "3.0.1" and doc["info"]["title"] == "orders"
    assert doc["x-amazon-apigateway-importexport-version"] == "1.0"
    assert set(doc["paths"]) == {"/orders", "/orders/{id}", "/mock"}
    op = doc["paths"]["/orders"]["post"]
    assert op["security"] == [{"jwt": ["orders/write"]}]
    assert op["x-amazon-apigateway-integration"]["type"] == "aws_proxy"
    assert doc["paths"]["/orders/{id}"]["parameters"][0]["name"] == "id"
    assert "x-amazon-apigateway-any-method" in doc["paths"]["/orders/{id}"]
    sch = doc["components"]["securitySchemes"]["jwt"]["x-amazon-apigateway-authorizer"]
    assert sch["type"] == "jwt" and sch["jwtConfiguration"]["issuer"] == "https://issuer.example"
    assert doc["x-amazon-apigateway-cors"]["allowOrigins"] == ["https://shop.example"]
    bare = json.loads(apigwv2.export_api(ApiId=api, Specification="OAS30", OutputType="JSON",
                                         IncludeExtensions=False)["body"].read())
    assert "x-amazon-apigateway-integration" not in json.dumps(bare)

    # YAML export, imported as a second API: the same routes.
    text = apigwv2.export_api(ApiId=api, Specification="OAS30", OutputType="YAML")["body"].read()
    if yaml:
        assert yaml.safe_load(text)["paths"].keys() == doc["paths"].keys()
    copy = apigwv2.import_api(Body=text.decode())["ApiId"]
    assert set(routes(apigwv2, copy)) == set(routes(apigwv2, api))

    # A stage exports what it deployed, not later changes.
    apigwv2.create_stage(ApiId=api, StageName="prod")
    apigwv2.create_deployment(ApiId=api, StageName="prod")
    small = definition(fn, title="orders v2")
    del small["paths"]["/mock"], small["paths"]["/orders"]
    r = apigwv2.reimport_api(ApiId=api, Body=json.dumps(small))
    assert r["ApiId"] == api and r["Name"] == "orders v2"
    assert set(routes(apigwv2, api)) == {"ANY /orders/{id}"}
    latest = json.loads(apigwv2.export_api(ApiId=api, Specification="OAS30",
                                           OutputType="JSON")["body"].read())
    assert set(latest["paths"]) == {"/orders/{id}"}
    staged = json.loads(apigwv2.export_api(ApiId=api, Specification="OAS30", OutputType="JSON",
                                           StageName="prod")["body"].read())
    assert set(staged["paths"]) == {"/orders", "/orders/{id}", "/mock"}
    assert staged["servers"][0]["variables"]["basePath"]["default"] == "prod"


@pytest.mark.parametrize("body, words", [
    ("{not json", "Unable to parse"),
    ("openapi: [unclosed", "Unable to parse"),
    ('{"swagger": "2.0", "info": {"title": "x"}}', "Swagger 2.0"),
    ('{"openapi": "3.0.1", "info": {}}', "info.title"),
    ("a: &x [1]\nb: *x\n", "aliases"),
    ('{"openapi": "3.0.1", "info": {"title": "t"}, "paths": {"/a": {"get": {'
     '"x-amazon-apigateway-integration": {"type": "aws_proxy", "uri": "not-a-function", '
     '"payloadFormatVersion": "2.0"}}}}}', ""),
    ('{"openapi": "3.0.1", "info": {"title": "t"}, "paths": {"bad path": {"get": {}}}}', ""),
])
def test_bad_definitions_are_bad_requests(apigwv2, body, words):
    before = len(apigwv2.get_apis()["Items"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigwv2.import_api(Body=body)
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    assert words in e.value.response["Error"]["Message"]
    assert len(apigwv2.get_apis()["Items"]) == before


def test_export_and_reimport_errors(apigwv2):
    api = apigwv2.create_api(Name="e", ProtocolType="HTTP")["ApiId"]
    for kw, code in [({"Specification": "OAS20", "OutputType": "JSON"}, "BadRequestException"),
                     ({"Specification": "OAS30", "OutputType": "XML"}, "BadRequestException"),
                     ({"Specification": "OAS30", "OutputType": "JSON", "ExportVersion": "2.0"},
                      "BadRequestException"),
                     ({"Specification": "OAS30", "OutputType": "JSON", "StageName": "nope"},
                      "NotFoundException")]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            apigwv2.export_api(ApiId=api, **kw)
        assert e.value.response["Error"]["Code"] == code, kw
    with pytest.raises(apigwv2.exceptions.NotFoundException):
        apigwv2.reimport_api(ApiId="nope123456", Body='{"openapi": "3.0.1", "info": {"title": "t"}}')
    with pytest.raises(botocore.exceptions.ClientError) as e:
        apigwv2.import_api(Body='{"openapi": "3.0.1", "info": {"title": "t"}}', Basepath="sideways")
    assert e.value.response["Error"]["Code"] == "BadRequestException"

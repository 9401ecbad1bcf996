"""API Gateway REST APIs (v1): the control plane through boto3's
"apigateway" client (errors as AWS words them), and the data plane:
MOCK and Lambda (AWS_PROXY, AWS) integrations reached by the Host form
"{id}.execute-api.localhost", "/_aws/execute-api/{id}/..." and
"/restapis/{id}/{stage}/_user_request_/..."."""
import json
import socket
import time

import pytest
from botocore.exceptions import ClientError

from test_apigwv2_data import lmb, req  # noqa: F401 (lmb is a fixture)
from test_lambda_invoke import make_fn


@pytest.fixture
def gw(client):
    return client("apigateway")


def err(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def lambda_uri(lmb, name, code):
    """A Python function made from code, as an API Gateway integration URI."""
    make_fn(lmb, name, {"app.py": code})
    arn = lmb.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    return f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations"


def root_of(gw, api):
    return [r["id"] for r in gw.get_resources(restApiId=api)["items"] if r["path"] == "/"][0]


# ---- REST APIs ------------------------------------------------------------------


def test_rest_api_crud(gw):
    a = gw.create_rest_api(name="pets", description="d", tags={"k": "v"},
                           binaryMediaTypes=["image/png"])
    api = a["id"]
    assert len(api) == 10 and a["name"] == "pets" and a["description"] == "d"
    assert a["apiKeySource"] == "HEADER" and a["endpointConfiguration"]["types"] == ["EDGE"]
    assert a["disableExecuteApiEndpoint"] is False and a["tags"] == {"k": "v"}
    assert a["binaryMediaTypes"] == ["image/png"]
    res = gw.get_resources(restApiId=api)["items"]
    assert len(res) == 1 and res[0]["path"] == "/" and len(res[0]["id"]) == 10
    if "rootResourceId" in a:  # newer models only
        assert a["rootResourceId"] == res[0]["id"]
    assert gw.get_rest_api(restApiId=api)["name"] == "pets"
    gw.create_rest_api(name="second")
    names = [x["name"] for x in gw.get_rest_apis()["items"]]
    assert names == ["pets", "second"]
    page = gw.get_rest_apis(limit=1)
    assert len(page["items"]) == 1 and page["position"]
    assert gw.get_rest_apis(position=page["position"])["items"][0]["name"] == "second"
    u = gw.update_rest_api(restApiId=api, patchOperations=[
        {"op": "replace", "path": "/name", "value": "cats"},
        {"op": "replace", "path": "/description", "value": "new"},
        {"op": "add", "path": "/binaryMediaTypes/image~1gif"},
        {"op": "remove", "path": "/binaryMediaTypes/image~1png"},
        {"op": "replace", "path": "/minimumCompressionSize", "value": "1024"},
        {"op": "replace", "path": "/disableExecuteApiEndpoint", "value": "true"}])
    assert u["name"] == "cats" and u["description"] == "new"
    assert u["binaryMediaTypes"] == ["image/gif"] and u["minimumCompressionSize"] == 1024
    assert u["disableExecuteApiEndpoint"] is True
    gw.delete_rest_api(restApiId=api)
    with pytest.raises(ClientError) as e:
        gw.get_rest_api(restApiId=api)
    assert err(e) == ("NotFoundException",
                      f"Invalid API identifier specified 000000000000:{api}", 404)
    with pytest.raises(ClientError) as e:
        gw.delete_rest_api(restApiId=api)
    assert err(e)[0] == "NotFoundException"


def test_bad_patch_operations(gw):
    api = gw.create_rest_api(name="p")["id"]
    with pytest.raises(ClientError) as e:
        gw.update_rest_api(restApiId=api, patchOperations=[
            {"op": "replace", "path": "/nope", "value": "x"}])
    code, msg, st = err(e)
    assert code == "BadRequestException" and st == 400
    assert msg.startswith("Invalid patch path  '/nope' specified for op 'replace'. Must be one of:")
    assert "/name" in msg
    with pytest.raises(ClientError) as e:
        gw.update_rest_api(restApiId=api, patchOperations=[
            {"op": "add", "path": "/name", "value": "x"}])
    assert err(e)[:2] == ("BadRequestException", "Invalid patch path  '/name' specified for op "
                          "'add'. Please choose supported operations")
    with pytest.raises(ClientError) as e:
        gw.update_rest_api(restApiId=api, patchOperations=[
            {"op": "move", "path": "/name", "from": "/description"}])
    assert err(e)[0] == "BadRequestException"
    with pytest.raises(ClientError) as e:
        gw.update_rest_api(restApiId=api, patchOperations=[
            {"op": "replace", "path": "/apiKeySource", "value": "NOPE"}])
    assert err(e)[0] == "BadRequestException"
    with pytest.raises(ClientError) as e:
        gw.update_rest_api(restApiId=api, patchOperations=[
            {"op": "replace", "path": "/disableExecuteApiEndpoint", "value": "maybe"}])
    assert err(e)[0] == "BadRequestException"
    # nothing of a failed patch stays
    assert gw.get_rest_api(restApiId=api)["apiKeySource"] == "HEADER"


# ---- resources ---------------------------------------------------------------------


def test_resources(gw):
    api = gw.create_rest_api(name="r")["id"]
    root = root_of(gw, api)
    pets = gw.create_resource(restApiId=api, parentId=root, pathPart="pets")
    assert pets["path"] == "/pets" and pets["parentId"] == root and pets["pathPart"] == "pets"
    pid = gw.create_resource(restApiId=api, parentId=pets["id"], pathPart="{petId}")
    assert pid["path"] == "/pets/{petId}"
    proxy = gw.create_resource(restApiId=api, parentId=root, pathPart="{proxy+}")
    assert proxy["path"] == "/{proxy+}"
    with pytest.raises(ClientError) as e:
        gw.create_resource(restApiId=api, parentId=root, pathPart="pets")
    assert err(e) == ("ConflictException",
                      "Another resource with the same parent already has this name: pets", 409)
    with pytest.raises(ClientError) as e:
        gw.create_resource(restApiId=api, parentId=pets["id"], pathPart="{other}")
    assert err(e)[:2] == ("BadRequestException", "A sibling ({petId}) of this resource already "
                          "has a variable path part -- only one is allowed")
    with pytest.raises(ClientError) as e:
        gw.create_resource(restApiId=api, parentId=root, pathPart="a b")
    assert err(e)[0] == "BadRequestException" and "path part only allow" in err(e)[1]
    with pytest.raises(ClientError) as e:
        gw.create_resource(restApiId=api, parentId=proxy["id"], pathPart="x")
    assert err(e)[0] == "BadRequestException"
    with pytest.raises(ClientError) as e:
        gw.create_resource(restApiId=api, parentId="nothere", pathPart="x")
    assert err(e) == ("NotFoundException", "Invalid Resource identifier specified", 404)
    with pytest.raises(ClientError) as e:
        gw.get_resource(restApiId=api, resourceId="nothere")
    assert err(e) == ("NotFoundException", "Invalid Resource identifier specified", 404)
    gw.put_method(restApiId=api, resourceId=pid["id"], httpMethod="GET", authorizationType="NONE")
    got = gw.get_resource(restApiId=api, resourceId=pid["id"])
    assert got["resourceMethods"] == {"GET": {}}
    got = gw.get_resource(restApiId=api, resourceId=pid["id"], embed=["methods"])
    assert got["resourceMethods"]["GET"]["authorizationType"] == "NONE"
    items = {x["path"]: x for x in gw.get_resources(restApiId=api, embed=["methods"])["items"]}
    assert set(items) == {"/", "/pets", "/pets/{petId}", "/{proxy+}"}
    assert items["/pets/{petId}"]["resourceMethods"]["GET"]["httpMethod"] == "GET"
    # rename moves the children's paths
    u = gw.update_resource(restApiId=api, resourceId=pets["id"], patchOperations=[
        {"op": "replace", "path": "/pathPart", "value": "dogs"}])
    assert u["path"] == "/dogs"
    assert gw.get_resource(restApiId=api, resourceId=pid["id"])["path"] == "/dogs/{petId}"
    with pytest.raises(ClientError) as e:
        gw.update_resource(restApiId=api, resourceId=pets["id"], patchOperations=[
            {"op": "replace", "path": "/nope", "value": "x"}])
    assert err(e)[0] == "BadRequestException"
    with pytest.raises(ClientError) as e:
        gw.delete_resource(restApiId=api, resourceId=root)
    assert err(e)[0] == "BadRequestException"
    gw.delete_resource(restApiId=api, resourceId=pets["id"])
    paths = {x["path"] for x in gw.get_resources(restApiId=api)["items"]}
    assert paths == {"/", "/{proxy+}"}


# ---- methods, responses, integrations -------------------------------------------------


def test_methods_and_integrations(gw):
    api = gw.create_rest_api(name="m")["id"]
    root = root_of(gw, api)
    with pytest.raises(ClientError) as e:
        gw.put_method(restApiId=api, resourceId=root, httpMethod="POST", authorizationType="NONE",
                      requestValidatorId="nope00")
    assert err(e)[:2] == ("BadRequestException", "Invalid Request Validator identifier specified")
    v1 = gw.create_request_validator(restApiId=api, name="params",
                                     validateRequestParameters=True)["id"]
    m = gw.put_method(restApiId=api, resourceId=root, httpMethod="POST", authorizationType="NONE",
                      apiKeyRequired=True, requestParameters={"method.request.header.X-A": True},
                      requestModels={"application/json": "Empty"}, requestValidatorId=v1)
    assert m["httpMethod"] == "POST" and m["apiKeyRequired"] is True
    assert m["requestParameters"] == {"method.request.header.X-A": True}
    assert m["requestModels"] == {"application/json": "Empty"} and m["requestValidatorId"] == v1
    with pytest.raises(ClientError) as e:
        gw.put_method(restApiId=api, resourceId=root, httpMethod="POST", authorizationType="NONE")
    assert err(e) == ("ConflictException", "Method already exists for this resource", 409)
    with pytest.raises(ClientError) as e:
        gw.put_method(restApiId=api, resourceId=root, httpMethod="FETCH", authorizationType="NONE")
    assert err(e)[0] == "BadRequestException"
    with pytest.raises(ClientError) as e:
        gw.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="CUSTOM")
    assert err(e)[0] == "BadRequestException"
    with pytest.raises(ClientError) as e:
        gw.get_method(restApiId=api, resourceId=root, httpMethod="GET")
    assert err(e) == ("NotFoundException", "Invalid Method identifier specified", 404)
    u = gw.update_method(restApiId=api, resourceId=root, httpMethod="POST", patchOperations=[
        {"op": "replace", "path": "/apiKeyRequired", "value": "false"},
        {"op": "add", "path": "/requestParameters/method.request.querystring.q", "value": "true"},
        {"op": "remove", "path": "/requestParameters/method.request.header.X-A"},
        {"op": "replace", "path": "/operationName", "value": "Make"}])
    assert u["apiKeyRequired"] is False and u["operationName"] == "Make"
    assert u["requestParameters"] == {"method.request.querystring.q": True}
    with pytest.raises(ClientError) as e:
        gw.update_method(restApiId=api, resourceId=root, httpMethod="POST", patchOperations=[
            {"op": "replace", "path": "/httpMethod", "value": "GET"}])
    assert err(e)[0] == "BadRequestException"

    # method responses
    mr = gw.put_method_response(restApiId=api, resourceId=root, httpMethod="POST", statusCode="200",
                                responseParameters={"method.response.header.X-B": False})
    assert mr["statusCode"] == "200" and mr["responseParameters"] == {"method.response.header.X-B": False}
    assert gw.get_method_response(restApiId=api, resourceId=root, httpMethod="POST",
                                  statusCode="200")["statusCode"] == "200"
    with pytest.raises(ClientError) as e:
        gw.get_method_response(restApiId=api, resourceId=root, httpMethod="POST", statusCode="404")
    assert err(e) == ("NotFoundException", "Invalid Response status code specified", 404)

    # integrations
    with pytest.raises(ClientError) as e:
        gw.get_integration(restApiId=api, resourceId=root, httpMethod="POST")
    assert err(e) == ("NotFoundException", "No integration defined for method", 404)
    for kw, msg in [
        (dict(type="MOCK", timeoutInMillis=29001), "Timeout should be between 50 ms and 29000 ms"),
        (dict(type="MOCK", timeoutInMillis=49), "Timeout should be between 50 ms and 29000 ms"),
        (dict(type="AWS_PROXY", uri="arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
              "arn:aws:lambda:us-east-1:000000000000:function:f/invocations"),
         "Enumeration value for HttpMethod must be non-empty"),
        (dict(type="HTTP", integrationHttpMethod="GET", uri="ftp://x"),
         "Invalid HTTP endpoint specified for URI"),
        (dict(type="AWS", integrationHttpMethod="POST", uri="arn:aws:apigateway:us-east-1:sqs"),
         "AWS ARN for integration must contain path or action"),
        (dict(type="MOCK", passthroughBehavior="SOMETIMES"), None),
    ]:
        with pytest.raises(ClientError) as e:
            gw.put_integration(restApiId=api, resourceId=root, httpMethod="POST", **kw)
        assert err(e)[0] == "BadRequestException", kw
        if msg:
            assert err(e)[1] == msg
    ig = gw.put_integration(restApiId=api, resourceId=root, httpMethod="POST", type="MOCK",
                            requestTemplates={"application/json": '{"statusCode": 200}'})
    assert ig["type"] == "MOCK" and ig["passthroughBehavior"] == "WHEN_NO_MATCH"
    assert ig["timeoutInMillis"] == 29000 and ig["cacheNamespace"] == root
    assert ig["requestTemplates"] == {"application/json": '{"statusCode": 200}'}
    u = gw.update_integration(restApiId=api, resourceId=root, httpMethod="POST", patchOperations=[
        {"op": "replace", "path": "/timeoutInMillis", "value": "1000"},
        {"op": "replace", "path": "/passthroughBehavior", "value": "NEVER"},
        {"op": "add", "path": "/requestTemplates/text~1plain", "value": "t"}])
    assert u["timeoutInMillis"] == 1000 and u["passthroughBehavior"] == "NEVER"
    assert u["requestTemplates"]["text/plain"] == "t"
    with pytest.raises(ClientError) as e:
        gw.update_integration(restApiId=api, resourceId=root, httpMethod="POST", patchOperations=[
            {"op": "replace", "path": "/timeoutInMillis", "value": "30000"}])
    assert err(e)[:2] == ("BadRequestException", "Timeout should be between 50 ms and 29000 ms")
    assert gw.get_integration(restApiId=api, resourceId=root, httpMethod="POST")["timeoutInMillis"] == 1000

    # integration responses
    ir = gw.put_integration_response(restApiId=api, resourceId=root, httpMethod="POST",
                                     statusCode="200", selectionPattern="2\\d\\d",
                                     responseTemplates={"application/json": "{}"},
                                     responseParameters={"method.response.header.X-B": "'b'"})
    assert ir["statusCode"] == "200" and ir["selectionPattern"] == "2\\d\\d"
    got = gw.get_integration_response(restApiId=api, resourceId=root, httpMethod="POST",
                                      statusCode="200")
    assert got["responseParameters"] == {"method.response.header.X-B": "'b'"}
    assert gw.get_integration(restApiId=api, resourceId=root,
                              httpMethod="POST")["integrationResponses"]["200"]["statusCode"] == "200"
    with pytest.raises(ClientError) as e:
        gw.put_integration_response(restApiId=api, resourceId=root, httpMethod="POST",
                                    statusCode="400", responseParameters={"bogus": "'x'"})
    assert err(e)[0] == "BadRequestException"
    with pytest.raises(ClientError) as e:
        gw.get_integration_response(restApiId=api, resourceId=root, httpMethod="POST",
                                    statusCode="500")
    assert err(e) == ("NotFoundException", "Invalid Response status code specified", 404)
    gw.delete_integration_response(restApiId=api, resourceId=root, httpMethod="POST", statusCode="200")
    with pytest.raises(ClientError) as e:
        gw.delete_integration_response(restApiId=api, resourceId=root, httpMethod="POST",
                                       statusCode="200")
    assert err(e)[0] == "NotFoundException"
    gw.delete_integration(restApiId=api, resourceId=root, httpMethod="POST")
    with pytest.raises(ClientError) as e:
        gw.get_integration(restApiId=api, resourceId=root, httpMethod="POST")
    assert err(e)[0] == "NotFoundException"
    gw.delete_method_response(restApiId=api, resourceId=root, httpMethod="POST", statusCode="200")
    gw.delete_method(restApiId=api, resourceId=root, httpMethod="POST")
    with pytest.raises(ClientError) as e:
        gw.delete_method(restApiId=api, resourceId=root, httpMethod="POST")
    assert err(e) == ("NotFoundException", "Invalid Method identifier specified", 404)


# ---- deployments, stages, tags ----------------------------------------------------------


def mock_api(gw, name="mock", template='{"statusCode": 200}', body='{"ok": true}'):
    api = gw.create_rest_api(name=name)["id"]
    root = root_of(gw, api)
    gw.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    gw.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK",
                       requestTemplates={"application/json": template})
    gw.put_method_response(restApiId=api, resourceId=root, httpMethod="GET", statusCode="200")
    gw.put_integration_response(restApiId=api, resourceId=root, httpMethod="GET", statusCode="200",
                                responseTemplates={"application/json": body})
    return api, root


def test_deployments_and_stages(gw):
    api = gw.create_rest_api(name="d")["id"]
    root = root_of(gw, api)
    with pytest.raises(ClientError) as e:
        gw.create_deployment(restApiId=api, stageName="prod")
    assert err(e) == ("BadRequestException", "The REST API doesn't contain any methods", 400)
    gw.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    with pytest.raises(ClientError) as e:
        gw.create_deployment(restApiId=api, stageName="prod")
    assert err(e) == ("BadRequestException", "No integration defined for method", 400)
    gw.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
    d = gw.create_deployment(restApiId=api, stageName="prod", description="first",
                             stageDescription="the stage", variables={"v": "1"})
    assert len(d["id"]) == 6 and d["description"] == "first" and "createdDate" in d
    s = gw.get_stage(restApiId=api, stageName="prod")
    assert s["deploymentId"] == d["id"] and s["description"] == "the stage"
    assert s["variables"] == {"v": "1"} and s["cacheClusterEnabled"] is False
    got = gw.get_deployment(restApiId=api, deploymentId=d["id"])
    assert got["id"] == d["id"] and "apiSummary" not in got
    got = gw.get_deployment(restApiId=api, deploymentId=d["id"], embed=["apisummary"])
    assert got["apiSummary"] == {"/": {"GET": {"authorizationType": "NONE", "apiKeyRequired": False}}}
    d2 = gw.create_deployment(restApiId=api, stageName="prod", variables={"w": "2"})
    s = gw.get_stage(restApiId=api, stageName="prod")
    assert s["deploymentId"] == d2["id"] and s["variables"] == {"v": "1", "w": "2"}
    assert [x["id"] for x in gw.get_deployments(restApiId=api)["items"]] == [d["id"], d2["id"]]
    with pytest.raises(ClientError) as e:
        gw.delete_deployment(restApiId=api, deploymentId=d2["id"])
    assert err(e) == ("BadRequestException",
                      "Active stages pointing to this deployment must be moved or deleted", 400)
    with pytest.raises(ClientError) as e:
        gw.get_deployment(restApiId=api, deploymentId="zzzzzz")
    assert err(e) == ("NotFoundException", "Invalid Deployment identifier specified", 404)
    gw.delete_deployment(restApiId=api, deploymentId=d["id"])

    st = gw.create_stage(restApiId=api, stageName="dev", deploymentId=d2["id"], description="x",
                         variables={"a": "b"}, tags={"t": "1"})
    assert st["stageName"] == "dev" and st["variables"] == {"a": "b"} and st["tags"] == {"t": "1"}
    with pytest.raises(ClientError) as e:
        gw.create_stage(restApiId=api, stageName="dev", deploymentId=d2["id"])
    assert err(e) == ("ConflictException", "Stage already exists", 409)
    with pytest.raises(ClientError) as e:
        gw.create_stage(restApiId=api, stageName="qa", deploymentId="nope00")
    assert err(e)[0] == "BadRequestException"
    with pytest.raises(ClientError) as e:
        gw.create_stage(restApiId=api, stageName="bad name", deploymentId=d2["id"])
    assert err(e)[0] == "BadRequestException"
    assert sorted(x["stageName"] for x in gw.get_stages(restApiId=api)["item"]) == ["dev", "prod"]
    u = gw.update_stage(restApiId=api, stageName="dev", patchOperations=[
        {"op": "replace", "path": "/description", "value": "y"},
        {"op": "replace", "path": "/variables/a", "value": "c"},
        {"op": "add", "path": "/variables/n", "value": "1"}])
    assert u["description"] == "y" and u["variables"] == {"a": "c", "n": "1"}
    u = gw.update_stage(restApiId=api, stageName="dev", patchOperations=[
        {"op": "remove", "path": "/variables/a"}])
    assert u["variables"] == {"n": "1"}
    with pytest.raises(ClientError) as e:
        gw.update_stage(restApiId=api, stageName="dev", patchOperations=[
            {"op": "replace", "path": "/deploymentId", "value": "nope00"}])
    assert err(e)[0] == "BadRequestException"
    with pytest.raises(ClientError) as e:
        gw.update_stage(restApiId=api, stageName="dev", patchOperations=[
            {"op": "replace", "path": "/stageName", "value": "x"}])
    assert err(e)[0] == "BadRequestException"
    gw.delete_stage(restApiId=api, stageName="dev")
    with pytest.raises(ClientError) as e:
        gw.get_stage(restApiId=api, stageName="dev")
    assert err(e) == ("NotFoundException", "Invalid Stage identifier specified", 404)
    with pytest.raises(ClientError) as e:
        gw.delete_stage(restApiId=api, stageName="dev")
    assert err(e)[0] == "NotFoundException"


def test_tags(gw):
    api = gw.create_rest_api(name="t", tags={"a": "1"})["id"]
    arn = f"arn:aws:apigateway:us-east-1::/restapis/{api}"
    gw.tag_resource(resourceArn=arn, tags={"b": "2"})
    assert gw.get_tags(resourceArn=arn)["tags"] == {"a": "1", "b": "2"}
    gw.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert gw.get_tags(resourceArn=arn)["tags"] == {"b": "2"}
    assert gw.get_rest_api(restApiId=api)["tags"] == {"b": "2"}
    root = root_of(gw, api)
    gw.put_method(restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE")
    gw.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
    gw.create_deployment(restApiId=api, stageName="s1")
    sarn = arn + "/stages/s1"
    gw.tag_resource(resourceArn=sarn, tags={"s": "x"})
    assert gw.get_tags(resourceArn=sarn)["tags"] == {"s": "x"}
    assert gw.get_stage(restApiId=api, stageName="s1")["tags"] == {"s": "x"}
    for bad in [f"arn:aws:apigateway:us-east-1::/restapis/zzzzzzzzzz", arn + "/stages/none"]:
        with pytest.raises(ClientError) as e:
            gw.get_tags(resourceArn=bad)
        assert err(e)[0] == "NotFoundException"


def test_v1_and_v2_share_signing_name(gw, apigwv2):
    v2 = apigwv2.create_api(Name="h", ProtocolType="HTTP")["ApiId"]
    v1 = gw.create_rest_api(name="r")["id"]
    assert [x["ApiId"] for x in apigwv2.get_apis()["Items"]] == [v2]
    assert [x["id"] for x in gw.get_rest_apis()["items"]] == [v1]
    with pytest.raises(ClientError) as e:
        gw.get_rest_api(restApiId=v2)
    assert err(e)[0] == "NotFoundException"


# ---- data plane ----------------------------------------------------------------------------


def test_mock_endpoint(nimbus, gw):
    api, root = mock_api(gw, body='{"hello": "world"}')
    gw.put_method_response(restApiId=api, resourceId=root, httpMethod="GET", statusCode="200",
                           responseParameters={"method.response.header.X-Static": False,
                                               "method.response.header.X-Echo": False})
    gw.put_integration_response(restApiId=api, resourceId=root, httpMethod="GET", statusCode="200",
                                responseTemplates={"application/json": '{"hello": "world"}'},
                                responseParameters={
                                    "method.response.header.X-Static": "'fixed'",
                                    "method.response.header.X-Echo": "method.request.header.X-In"})
    # not deployed yet: no stage
    host = f"{api}.execute-api.localhost:{nimbus.port}"
    st, h, b = req(nimbus, "GET", "/prod/", host=host)
    assert st == 403 and json.loads(b) == {"message": "Missing Authentication Token"}
    gw.create_deployment(restApiId=api, stageName="prod")
    st, h, b = req(nimbus, "GET", "/prod/", host=host, headers={"X-In": "abc"})
    assert st == 200, b
    assert json.loads(b) == {"hello": "world"} and h["content-type"] == "application/json"
    assert h["x-static"] == "fixed" and h["x-echo"] == "abc"
    assert h["x-amzn-requestid"] and h["x-amz-apigw-id"]
    # the other URL forms
    st, h, b = req(nimbus, "GET", "/prod", host=f"{api}.execute-api.localhost.localstack.cloud:{nimbus.port}")
    assert st == 200 and json.loads(b) == {"hello": "world"}
    st, h, b = req(nimbus, "GET", f"/_aws/execute-api/{api}/prod/")
    assert st == 200 and json.loads(b) == {"hello": "world"}
    st, h, b = req(nimbus, "GET", f"/restapis/{api}/prod/_user_request_/")
    assert st == 200 and json.loads(b) == {"hello": "world"}
    # unknown path, method, stage
    for m, p in [("GET", "/prod/nope"), ("POST", "/prod/"), ("GET", "/dev/")]:
        st, h, b = req(nimbus, m, p, host=host)
        assert st == 403 and json.loads(b) == {"message": "Missing Authentication Token"}, p
        assert h["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    # the default endpoint can be switched off, at once
    gw.update_rest_api(restApiId=api, patchOperations=[
        {"op": "replace", "path": "/disableExecuteApiEndpoint", "value": "true"}])
    st, h, b = req(nimbus, "GET", "/prod/", host=host)
    assert st == 403 and json.loads(b) == {"message": "Forbidden"}
    gw.update_rest_api(restApiId=api, patchOperations=[
        {"op": "replace", "path": "/disableExecuteApiEndpoint", "value": "false"}])
    assert req(nimbus, "GET", "/prod/", host=host)[0] == 200
    # edits show only after a redeploy
    gw.put_integration_response(restApiId=api, resourceId=root, httpMethod="GET", statusCode="200",
                                responseTemplates={"application/json": '{"v": 2}'})
    assert json.loads(req(nimbus, "GET", "/prod/", host=host)[2]) == {"hello": "world"}
    gw.create_deployment(restApiId=api, stageName="prod")
    assert json.loads(req(nimbus, "GET", "/prod/", host=host)[2]) == {"v": 2}


def test_mock_status_selection_and_passthrough(nimbus, gw):
    api, root = mock_api(gw, template='{"statusCode": 404}')
    gw.put_method_response(restApiId=api, resourceId=root, httpMethod="GET", statusCode="404")
    gw.put_integration_response(restApiId=api, resourceId=root, httpMethod="GET", statusCode="404",
                                selectionPattern="4\\d\\d",
                                responseTemplates={"application/json": '{"missing": true}'})
    res = gw.create_resource(restApiId=api, parentId=root, pathPart="strict")
    gw.put_method(restApiId=api, resourceId=res["id"], httpMethod="POST", authorizationType="NONE")
    gw.put_integration(restApiId=api, resourceId=res["id"], httpMethod="POST", type="MOCK",
                       passthroughBehavior="WHEN_NO_TEMPLATES",
                       requestTemplates={"application/json": '{"statusCode": 200}'})
    gw.put_integration_response(restApiId=api, resourceId=res["id"], httpMethod="POST",
                                statusCode="200", responseTemplates={"application/json": "{}"})
    never = gw.create_resource(restApiId=api, parentId=root, pathPart="never")
    gw.put_method(restApiId=api, resourceId=never["id"], httpMethod="POST", authorizationType="NONE")
    gw.put_integration(restApiId=api, resourceId=never["id"], httpMethod="POST", type="MOCK",
                       passthroughBehavior="NEVER")
    gw.put_integration_response(restApiId=api, resourceId=never["id"], httpMethod="POST",
                                statusCode="200")
    nores = gw.create_resource(restApiId=api, parentId=root, pathPart="noresp")
    gw.put_method(restApiId=api, resourceId=nores["id"], httpMethod="GET", authorizationType="NONE")
    gw.put_integration(restApiId=api, resourceId=nores["id"], httpMethod="GET", type="MOCK",
                       requestTemplates={"application/json": '{"statusCode": 503}'})
    gw.put_integration_response(restApiId=api, resourceId=nores["id"], httpMethod="GET",
                                statusCode="200", selectionPattern="2\\d\\d")
    gw.create_deployment(restApiId=api, stageName="v1")
    p = f"/_aws/execute-api/{api}/v1"
    st, h, b = req(nimbus, "GET", p + "/")
    assert st == 404 and json.loads(b) == {"missing": True}
    st, h, b = req(nimbus, "POST", p + "/strict", body=b"{}", headers={"Content-Type": "application/json"})
    assert st == 200 and b == b"{}"
    st, h, b = req(nimbus, "POST", p + "/strict", body=b"x", headers={"Content-Type": "text/plain"})
    assert st == 415 and json.loads(b) == {"message": "Unsupported Media Type"}
    st, h, b = req(nimbus, "POST", p + "/never", body=b"{}", headers={"Content-Type": "application/json"})
    assert st == 415
    st, h, b = req(nimbus, "GET", p + "/noresp")
    assert st == 500 and json.loads(b) == {"message": "Internal server error"}


ECHO = '''
import json
def handler(event, context):
    q = (event.get("queryStringParameters") or {}).get("kind")
    if q == "bad":
        return {"nope": 1}
    if q == "raise":
        raise ValueError("boom")
    return {"statusCode": 201, "headers": {"Content-Type": "application/json", "X-Fn": "1"},
            "multiValueHeaders": {"X-Multi": ["a", "b"]}, "body": json.dumps(event)}
'''


def test_lambda_proxy(nimbus, gw, lmb):
    uri = lambda_uri(lmb, "restfn", ECHO)
    api = gw.create_rest_api(name="lp")["id"]
    root = root_of(gw, api)
    pets = gw.create_resource(restApiId=api, parentId=root, pathPart="pets")
    pid = gw.create_resource(restApiId=api, parentId=pets["id"], pathPart="{id}")
    dog = gw.create_resource(restApiId=api, parentId=pets["id"], pathPart="dog")
    proxy = gw.create_resource(restApiId=api, parentId=root, pathPart="{proxy+}")
    for r, m in [(pid, "GET"), (dog, "GET"), (proxy, "ANY")]:
        gw.put_method(restApiId=api, resourceId=r["id"], httpMethod=m, authorizationType="NONE")
        gw.put_integration(restApiId=api, resourceId=r["id"], httpMethod=m, type="AWS_PROXY",
                           integrationHttpMethod="POST", uri=uri)
    gw.create_deployment(restApiId=api, stageName="prod", variables={"sv": "1"})
    host = f"{api}.execute-api.localhost:{nimbus.port}"
    st, h, b = req(nimbus, "GET", "/prod/pets/42?a=1&a=2&b=x", host=host,
                   headers={"User-Agent": "ua/1", "X-H": "v"})
    assert st == 201, b
    assert h["x-fn"] == "1" and h["x-amzn-requestid"] and h["x-amz-apigw-id"]
    ev = json.loads(b)
    assert ev["resource"] == "/pets/{id}" and ev["path"] == "/pets/42"
    assert ev["httpMethod"] == "GET" and ev["pathParameters"] == {"id": "42"}
    assert ev["queryStringParameters"] == {"a": "2", "b": "x"}
    assert ev["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x"]}
    assert ev["headers"]["x-h"] == "v" and ev["multiValueHeaders"]["x-h"] == ["v"]
    assert ev["stageVariables"] == {"sv": "1"} and ev["body"] is None
    assert ev["isBase64Encoded"] is False
    rc = ev["requestContext"]
    assert rc["resourceId"] == pid["id"] and rc["resourcePath"] == "/pets/{id}"
    assert rc["stage"] == "prod" and rc["path"] == "/prod/pets/42" and rc["apiId"] == api
    assert rc["requestId"] == h["x-amzn-requestid"] and rc["accountId"] == "000000000000"
    assert rc["identity"]["sourceIp"] == "127.0.0.1" and rc["identity"]["userAgent"] == "ua/1"
    assert rc["httpMethod"] == "GET" and rc["domainName"] == f"{api}.execute-api.localhost"
    # a literal beats {id}; {proxy+} takes the rest, any method
    ev = json.loads(req(nimbus, "GET", "/prod/pets/dog", host=host)[2])
    assert ev["resource"] == "/pets/dog" and ev["pathParameters"] is None
    st, h, b = req(nimbus, "POST", "/prod/a/b/c.txt", host=host, body=b"hi",
                   headers={"Content-Type": "text/plain"})
    ev = json.loads(b)
    assert st == 201 and ev["resource"] == "/{proxy+}" and ev["pathParameters"] == {"proxy": "a/b/c.txt"}
    assert ev["body"] == "hi" and ev["httpMethod"] == "POST"
    # the path form and _user_request_
    st, h, b = req(nimbus, "GET", f"/restapis/{api}/prod/_user_request_/pets/7")
    assert st == 201 and json.loads(b)["pathParameters"] == {"id": "7"}
    # a stage variable names the function
    sv = gw.create_resource(restApiId=api, parentId=root, pathPart="sv")["id"]
    gw.put_method(restApiId=api, resourceId=sv, httpMethod="GET", authorizationType="NONE")
    gw.put_integration(restApiId=api, resourceId=sv, httpMethod="GET", type="AWS_PROXY",
                       integrationHttpMethod="POST",
                       uri=uri.replace("function:restfn", "function:${stageVariables.fn}"))
    gw.create_deployment(restApiId=api, stageName="prod", variables={"fn": "restfn"})
    st, h, b = req(nimbus, "GET", "/prod/sv", host=host)
    assert st == 201 and json.loads(b)["resource"] == "/sv", b
    # malformed answers and errors
    for kind in ["bad", "raise"]:
        st, h, b = req(nimbus, "GET", f"/prod/pets/1?kind={kind}", host=host)
        assert st == 502 and json.loads(b) == {"message": "Internal server error"}, kind
    # no such resource: 403; the root has no method
    st, h, b = req(nimbus, "GET", "/prod/", host=host)
    assert st == 403 and json.loads(b) == {"message": "Missing Authentication Token"}


PLAIN = '''
def handler(event, context):
    if event.get("fail"):
        raise ValueError("bad input: " + event["fail"])
    return {"got": event}
'''


def test_lambda_aws_integration(nimbus, gw, lmb):
    uri = lambda_uri(lmb, "restplain", PLAIN)
    api = gw.create_rest_api(name="aws")["id"]
    root = root_of(gw, api)
    gw.put_method(restApiId=api, resourceId=root, httpMethod="POST", authorizationType="NONE")
    gw.put_integration(restApiId=api, resourceId=root, httpMethod="POST", type="AWS",
                       integrationHttpMethod="POST", uri=uri)
    gw.put_method_response(restApiId=api, resourceId=root, httpMethod="POST", statusCode="200")
    gw.put_method_response(restApiId=api, resourceId=root, httpMethod="POST", statusCode="400")
    gw.put_integration_response(restApiId=api, resourceId=root, httpMethod="POST", statusCode="200")
    gw.put_integration_response(restApiId=api, resourceId=root, httpMethod="POST", statusCode="400",
                                selectionPattern="bad input: .*",
                                responseTemplates={"application/json": '{"error": true}'})
    gw.create_deployment(restApiId=api, stageName="s")
    p = f"/_aws/execute-api/{api}/s/"
    st, h, b = req(nimbus, "POST", p, body=b'{"a": 1}', headers={"Content-Type": "application/json"})
    assert st == 200 and json.loads(b) == {"got": {"a": 1}}, b
    st, h, b = req(nimbus, "POST", p, body=b'{"fail": "x"}', headers={"Content-Type": "application/json"})
    assert st == 400 and json.loads(b) == {"error": True}, b


def test_selection_pattern_limits(gw):
    api, root = mock_api(gw)
    for bad in ["a{1000}{1000}", "(", "x" * 600]:
        with pytest.raises(ClientError) as e:
            gw.put_integration_response(restApiId=api, resourceId=root, httpMethod="GET",
                                        statusCode="500", selectionPattern=bad)
        assert err(e)[0] == "BadRequestException", bad


def test_durable(nimbus_fresh):
    n = nimbus_fresh(durable=True)
    gw = n.client("apigateway")
    api, root = mock_api(gw, body='{"kept": 1}')
    gw.create_deployment(restApiId=api, stageName="prod")
    n.kill9()
    n.start(n.port)
    gw = n.client("apigateway")
    assert gw.get_rest_api(restApiId=api)["name"] == "mock"
    assert gw.get_stage(restApiId=api, stageName="prod")["deploymentId"]
    st, h, b = req(n, "GET", f"/_aws/execute-api/{api}/prod/")
    assert st == 200 and json.loads(b) == {"kept": 1}


def test_mock_velocity_templates(nimbus, gw):
    api = gw.create_rest_api(name="vtl")["id"]
    root = root_of(gw, api)
    res = gw.create_resource(restApiId=api, parentId=root, pathPart="{id}")["id"]
    gw.put_method(restApiId=api, resourceId=res, httpMethod="GET", authorizationType="NONE")
    gw.put_integration(restApiId=api, resourceId=res, httpMethod="GET", type="MOCK", requestTemplates={
        "application/json": "#if($input.params('mode') == 'missing')"
                            '{"statusCode": 404}#else{"statusCode": 200}#end'})
    gw.put_integration_response(
        restApiId=api, resourceId=res, httpMethod="GET", statusCode="200",
        responseTemplates={"application/json":
                           '{"id": "$input.params(\'id\')", "name": "$input.params(\'name\')", '
                           '"stage": "$context.stage", "v": "$stageVariables.v", '
                           '"path": "$context.resourcePath"}'})
    gw.put_integration_response(
        restApiId=api, resourceId=res, httpMethod="GET", statusCode="404", selectionPattern="404",
        responseTemplates={"application/json":
                           '#set($context.responseOverride.header.X-Over = "o")'
                           '#set($context.responseOverride.status = 410){"missing": true}'})
    gw.create_deployment(restApiId=api, stageName="prod", variables={"v": "sv"})
    p = f"/_aws/execute-api/{api}/prod"
    st, h, b = req(nimbus, "GET", p + "/42?name=rex")
    assert st == 200, b
    assert json.loads(b) == {"id": "42", "name": "rex", "stage": "prod", "v": "sv", "path": "/{id}"}
    st, h, b = req(nimbus, "GET", p + "/42?mode=missing")
    assert st == 410 and json.loads(b) == {"missing": True} and h["x-over"] == "o"


def test_aws_integration_templates(nimbus, gw, lmb):
    uri = lambda_uri(lmb, "resttpl", PLAIN)
    api = gw.create_rest_api(name="awst")["id"]
    root = root_of(gw, api)
    gw.put_method(restApiId=api, resourceId=root, httpMethod="POST", authorizationType="NONE")
    gw.put_integration(restApiId=api, resourceId=root, httpMethod="POST", type="AWS",
                       integrationHttpMethod="POST", uri=uri, requestTemplates={
                           "application/json": '{"n": $input.json(\'$.a\'), "q": "$input.params(\'q\')"}'})
    gw.put_integration_response(restApiId=api, resourceId=root, httpMethod="POST", statusCode="200",
                                responseTemplates={"application/json":
                                                   '{"n": $input.json(\'$.got.n\'), '
                                                   '"q": "$input.path(\'$.got.q\')"}'})
    gw.create_deployment(restApiId=api, stageName="s")
    p = f"/_aws/execute-api/{api}/s/?q=hello"
    st, h, b = req(nimbus, "POST", p, body=b'{"a": [1, 2]}', headers={"Content-Type": "application/json"})
    assert st == 200 and json.loads(b) == {"n": [1, 2], "q": "hello"}, b
    st, h, b = req(nimbus, "POST", p, body=b'not json', headers={"Content-Type": "application/json"})
    assert st == 400 and "Could not parse request body into json" in json.loads(b)["message"], b


@pytest.fixture
def backend():
    """A local HTTP server answering with what it received."""
    import http.server
    import threading

    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def handle_one(self):
            if "slow" in self.path:
                time.sleep(0.6)
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n).decode() if n else ""
            out = json.dumps({"method": self.command, "path": self.path, "body": body,
                              "x": self.headers.get("X-H")}).encode()
            self.send_response(404 if "missing" in self.path else 200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        do_GET = do_POST = do_PUT = do_DELETE = handle_one

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def test_http_integrations(nimbus, gw, backend):
    api = gw.create_rest_api(name="http")["id"]
    root = root_of(gw, api)
    proxy = gw.create_resource(restApiId=api, parentId=root, pathPart="{proxy+}")["id"]
    gw.put_method(restApiId=api, resourceId=proxy, httpMethod="ANY", authorizationType="NONE")
    gw.put_integration(restApiId=api, resourceId=proxy, httpMethod="ANY", type="HTTP_PROXY",
                       integrationHttpMethod="ANY", uri=backend + "/up/{proxy}")
    gw.put_method(restApiId=api, resourceId=root, httpMethod="POST", authorizationType="NONE")
    gw.put_integration(restApiId=api, resourceId=root, httpMethod="POST", type="HTTP",
                       integrationHttpMethod="PUT", uri=backend + "/mapped",
                       requestParameters={"integration.request.header.X-H": "'fixed'",
                                          "integration.request.querystring.who":
                                              "method.request.querystring.name"},
                       requestTemplates={"application/json": '{"wrapped": $input.body}'})
    gw.put_integration_response(restApiId=api, resourceId=root, httpMethod="POST", statusCode="200",
                                responseTemplates={"application/json":
                                                   '{"saw": $input.json(\'$.method\'), '
                                                   '"path": $input.json(\'$.path\'), '
                                                   '"x": $input.json(\'$.x\')}'})
    gw.create_deployment(restApiId=api, stageName="p")
    p = f"/_aws/execute-api/{api}/p"
    st, h, b = req(nimbus, "DELETE", p + "/a/b?k=v", headers={"X-H": "1"}, body=b"data")
    assert st == 200, b
    assert json.loads(b) == {"method": "DELETE", "path": "/up/a/b?k=v", "body": "data", "x": "1"}
    st, h, b = req(nimbus, "GET", p + "/missing")
    assert st == 404 and json.loads(b)["path"] == "/up/missing"
    st, h, b = req(nimbus, "POST", p + "/?name=a%20b", body=b'{"n": 1}',
                   headers={"Content-Type": "application/json"})
    assert st == 200 and json.loads(b) == {"saw": "PUT", "path": "/mapped?who=a%20b", "x": "fixed"}, b
    # a client that hangs up while the endpoint is slow, then the integration timeout
    c = socket.create_connection(("127.0.0.1", nimbus.port))
    c.sendall(f"GET {p}/slow HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    time.sleep(0.1)
    c.close()
    gw.update_integration(restApiId=api, resourceId=proxy, httpMethod="ANY", patchOperations=[
        {"op": "replace", "path": "/timeoutInMillis", "value": "200"}])
    gw.create_deployment(restApiId=api, stageName="p")
    st, h, b = req(nimbus, "GET", p + "/slow")
    assert st == 504 and json.loads(b) == {"message": "Endpoint request timed out"}, b
    # an endpoint that refuses connections
    gw.update_integration(restApiId=api, resourceId=proxy, httpMethod="ANY", patchOperations=[
        {"op": "replace", "path": "/uri", "value": "http://127.0.0.1:1/{proxy}"}])
    gw.create_deployment(restApiId=api, stageName="p")
    st, h, b = req(nimbus, "GET", p + "/x")
    assert st == 500 and json.loads(b) == {"message": "Internal server error"}


def test_aws_cli(aws_cli):
    api = aws_cli("apigateway", "create-rest-api", "--name", "cli")["id"]
    items = aws_cli("apigateway", "get-resources", "--rest-api-id", api)["items"]
    assert [x["path"] for x in items] == ["/"]
    aws_cli("apigateway", "put-method", "--rest-api-id", api, "--resource-id", items[0]["id"],
            "--http-method", "GET", "--authorization-type", "NONE")
    ig = aws_cli("apigateway", "put-integration", "--rest-api-id", api, "--resource-id",
                 items[0]["id"], "--http-method", "GET", "--type", "MOCK")
    assert ig["type"] == "MOCK"
    p = aws_cli("apigateway", "get-rest-api", "--rest-api-id", "nope", ok=False)
    assert p.returncode != 0 and "NotFoundException" in p.stderr


def test_request_validators(nimbus, gw):
    api, root = mock_api(gw)
    v = gw.create_request_validator(restApiId=api, name="p", validateRequestParameters=True)
    assert v["name"] == "p" and v["validateRequestParameters"] is True
    assert v["validateRequestBody"] is False
    assert gw.get_request_validator(restApiId=api, requestValidatorId=v["id"])["name"] == "p"
    assert [x["id"] for x in gw.get_request_validators(restApiId=api)["items"]] == [v["id"]]
    u = gw.update_request_validator(restApiId=api, requestValidatorId=v["id"], patchOperations=[
        {"op": "replace", "path": "/name", "value": "q"}])
    assert u["name"] == "q"
    with pytest.raises(ClientError) as e:
        gw.get_request_validator(restApiId=api, requestValidatorId="nope00")
    assert err(e) == ("NotFoundException", "Invalid Request Validator identifier specified", 404)
    gw.update_method(restApiId=api, resourceId=root, httpMethod="GET", patchOperations=[
        {"op": "replace", "path": "/requestValidatorId", "value": v["id"]},
        {"op": "add", "path": "/requestParameters/method.request.querystring.q", "value": "true"},
        {"op": "add", "path": "/requestParameters/method.request.header.X-Need", "value": "true"},
        {"op": "add", "path": "/requestParameters/method.request.querystring.opt", "value": "false"}])
    with pytest.raises(ClientError) as e:
        gw.update_method(restApiId=api, resourceId=root, httpMethod="GET", patchOperations=[
            {"op": "replace", "path": "/requestValidatorId", "value": "nope00"}])
    assert err(e)[0] == "BadRequestException"
    gw.create_deployment(restApiId=api, stageName="prod")
    p = f"/_aws/execute-api/{api}/prod/"
    st, h, b = req(nimbus, "GET", p)
    assert st == 400 and json.loads(b)["message"].startswith("Missing required request parameters: [")
    assert "q" in json.loads(b)["message"] and "X-Need" in json.loads(b)["message"]
    st, h, b = req(nimbus, "GET", p + "?q=1", headers={"X-Need": "y"})
    assert st == 200, b
    gw.delete_request_validator(restApiId=api, requestValidatorId=v["id"])
    with pytest.raises(ClientError) as e:
        gw.delete_request_validator(restApiId=api, requestValidatorId=v["id"])
    assert err(e)[0] == "NotFoundException"


def test_models(gw):
    api = gw.create_rest_api(name="models")["id"]
    names = sorted(m["name"] for m in gw.get_models(restApiId=api)["items"])
    assert names == ["Empty", "Error"]
    assert json.loads(gw.get_model(restApiId=api, modelName="Error")["schema"])["title"] == "Error Schema"
    schema = json.dumps({"type": "object", "properties": {"n": {"type": "integer"}}})
    m = gw.create_model(restApiId=api, name="Pet", contentType="application/json", schema=schema,
                        description="a pet")
    assert m["name"] == "Pet" and m["schema"] == schema and m["id"]
    with pytest.raises(ClientError) as e:
        gw.create_model(restApiId=api, name="Pet", contentType="application/json", schema=schema)
    assert err(e) == ("ConflictException", "Model name already exists for this REST API", 409)
    for bad in [dict(name="Bad-Name", schema=schema), dict(name="Bad", schema="{nope")]:
        with pytest.raises(ClientError) as e:
            gw.create_model(restApiId=api, contentType="application/json", **bad)
        assert err(e)[0] == "BadRequestException", bad
    u = gw.update_model(restApiId=api, modelName="Pet", patchOperations=[
        {"op": "replace", "path": "/description", "value": "b"}])
    assert u["description"] == "b"
    root = root_of(gw, api)
    with pytest.raises(ClientError) as e:
        gw.put_method(restApiId=api, resourceId=root, httpMethod="POST", authorizationType="NONE",
                      requestModels={"application/json": "Nope"})
    assert err(e)[:2] == ("BadRequestException", "Invalid model identifier specified: Nope")
    gw.put_method(restApiId=api, resourceId=root, httpMethod="POST", authorizationType="NONE",
                  requestModels={"application/json": "Pet"})
    with pytest.raises(ClientError) as e:
        gw.delete_model(restApiId=api, modelName="Pet")
    assert err(e)[0] == "ConflictException"
    gw.delete_method(restApiId=api, resourceId=root, httpMethod="POST")
    gw.delete_model(restApiId=api, modelName="Pet")
    with pytest.raises(ClientError) as e:
        gw.get_model(restApiId=api, modelName="Pet")
    assert err(e) == ("NotFoundException", "Invalid model name specified: Pet", 404)


def test_clone_from(gw):
    src, root = mock_api(gw, name="src")
    gw.create_resource(restApiId=src, parentId=root, pathPart="child")
    c = gw.create_rest_api(name="copy", cloneFrom=src)
    assert c["id"] != src and c["name"] == "copy"
    paths = sorted(r["path"] for r in gw.get_resources(restApiId=c["id"])["items"])
    assert paths == ["/", "/child"]
    ig = gw.get_integration(restApiId=c["id"], resourceId=root, httpMethod="GET")
    assert ig["type"] == "MOCK"
    with pytest.raises(ClientError) as e:
        gw.create_rest_api(name="x", cloneFrom="zzzzzzzzzz")
    assert err(e)[0] == "NotFoundException"


AUTHZ = '''
def handler(event, context):
    tok = event.get("authorizationToken") or (event.get("headers") or {}).get("x-tok")
    if tok == "boom":
        raise Exception("Unauthorized")
    if tok == "broken":
        return {"nope": 1}
    eff = "Allow" if tok in ("good", "req") else "Deny"
    return {"principalId": "user-" + str(tok),
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": eff,
                 "Resource": event["methodArn"].split("/")[0] + "/*"}]},
            "context": {"k": "v", "type": event["type"], "arn": event["methodArn"]}}
'''


def test_lambda_authorizers(nimbus, gw, lmb):
    uri = lambda_uri(lmb, "authz", AUTHZ)
    api = gw.create_rest_api(name="auth")["id"]
    root = root_of(gw, api)
    with pytest.raises(ClientError) as e:
        gw.create_authorizer(restApiId=api, name="t", type="TOKEN", authorizerUri="nope",
                             identitySource="method.request.header.Authorization")
    assert err(e)[0] == "BadRequestException"
    tok = gw.create_authorizer(restApiId=api, name="t", type="TOKEN", authorizerUri=uri,
                               identitySource="method.request.header.Authorization")
    assert tok["type"] == "TOKEN" and tok["authorizerResultTtlInSeconds"] == 300
    rq = gw.create_authorizer(restApiId=api, name="r", type="REQUEST", authorizerUri=uri,
                              identitySource="method.request.header.X-Tok")
    assert sorted(x["name"] for x in gw.get_authorizers(restApiId=api)["items"]) == ["r", "t"]
    assert gw.update_authorizer(restApiId=api, authorizerId=tok["id"], patchOperations=[
        {"op": "replace", "path": "/authorizerResultTtlInSeconds", "value": "0"}])[
        "authorizerResultTtlInSeconds"] == 0
    with pytest.raises(ClientError) as e:
        gw.get_authorizer(restApiId=api, authorizerId="nope00")
    assert err(e) == ("NotFoundException", "Invalid Authorizer identifier specified", 404)
    for pp, az in [("t", tok["id"]), ("r", rq["id"])]:
        res = gw.create_resource(restApiId=api, parentId=root, pathPart=pp)["id"]
        gw.put_method(restApiId=api, resourceId=res, httpMethod="GET", authorizationType="CUSTOM",
                      authorizerId=az)
        gw.put_integration(restApiId=api, resourceId=res, httpMethod="GET", type="MOCK",
                           requestTemplates={"application/json": '{"statusCode": 200}'})
        gw.put_integration_response(
            restApiId=api, resourceId=res, httpMethod="GET", statusCode="200",
            responseTemplates={"application/json":
                               '{"p": "$context.authorizer.principalId", '
                               '"k": "$context.authorizer.k", "type": "$context.authorizer.type", '
                               '"arn": "$context.authorizer.arn"}'})
    gw.create_deployment(restApiId=api, stageName="prod")
    p = f"/_aws/execute-api/{api}/prod"
    st, h, b = req(nimbus, "GET", p + "/t", headers={"Authorization": "good"})
    assert st == 200, b
    got = json.loads(b)
    assert got["p"] == "user-good" and got["k"] == "v" and got["type"] == "TOKEN"
    assert got["arn"] == f"arn:aws:execute-api:us-east-1:000000000000:{api}/prod/GET/t"
    st, h, b = req(nimbus, "GET", p + "/t")
    assert st == 401 and json.loads(b) == {"message": "Unauthorized"}
    st, h, b = req(nimbus, "GET", p + "/t", headers={"Authorization": "bad"})
    assert st == 403 and "explicit deny" in json.loads(b)["Message"]
    st, h, b = req(nimbus, "GET", p + "/t", headers={"Authorization": "boom"})
    assert st == 401 and json.loads(b) == {"message": "Unauthorized"}
    st, h, b = req(nimbus, "GET", p + "/t", headers={"Authorization": "broken"})
    assert st == 500
    st, h, b = req(nimbus, "GET", p + "/r", headers={"X-Tok": "req"})
    assert st == 200 and json.loads(b)["type"] == "REQUEST", b
    st, h, b = req(nimbus, "GET", p + "/r", headers={"X-Tok": "no"})
    assert st == 403
    gw.delete_authorizer(restApiId=api, authorizerId=rq["id"])
    with pytest.raises(ClientError) as e:
        gw.delete_authorizer(restApiId=api, authorizerId=rq["id"])
    assert err(e)[0] == "NotFoundException"


def test_api_keys_and_usage_plans(nimbus, gw):
    api, root = mock_api(gw)
    gw.update_method(restApiId=api, resourceId=root, httpMethod="GET", patchOperations=[
        {"op": "replace", "path": "/apiKeyRequired", "value": "true"}])
    gw.create_deployment(restApiId=api, stageName="prod")
    p = f"/_aws/execute-api/{api}/prod/"
    st, h, b = req(nimbus, "GET", p)
    assert st == 403 and json.loads(b) == {"message": "Forbidden"}
    with pytest.raises(ClientError) as e:
        gw.create_api_key(name="short", value="tooshort")
    assert err(e)[0] == "BadRequestException"
    k = gw.create_api_key(name="k1", enabled=True, value="a" * 24)
    assert k["value"] == "a" * 24 and k["enabled"] is True
    assert "value" not in gw.get_api_key(apiKey=k["id"])
    assert gw.get_api_key(apiKey=k["id"], includeValue=True)["value"] == "a" * 24
    gen = gw.create_api_key(name="k2")
    assert len(gw.get_api_key(apiKey=gen["id"], includeValue=True)["value"]) == 40
    assert [x["name"] for x in gw.get_api_keys(nameQuery="k1")["items"]] == ["k1"]
    with pytest.raises(ClientError) as e:
        gw.get_api_key(apiKey="nope")
    assert err(e) == ("NotFoundException", "Invalid API Key identifier specified", 404)
    # a key outside any plan is not enough
    st, h, b = req(nimbus, "GET", p, headers={"x-api-key": "a" * 24})
    assert st == 403
    with pytest.raises(ClientError) as e:
        gw.create_usage_plan(name="bad", apiStages=[{"apiId": api, "stage": "nope"}])
    assert err(e)[0] == "BadRequestException"
    plan = gw.create_usage_plan(name="plan", apiStages=[{"apiId": api, "stage": "prod"}])
    pk = gw.create_usage_plan_key(usagePlanId=plan["id"], keyId=k["id"], keyType="API_KEY")
    assert pk["id"] == k["id"] and pk["type"] == "API_KEY"
    with pytest.raises(ClientError) as e:
        gw.create_usage_plan_key(usagePlanId=plan["id"], keyId=k["id"], keyType="API_KEY")
    assert err(e)[0] == "ConflictException"
    assert [x["id"] for x in gw.get_usage_plan_keys(usagePlanId=plan["id"])["items"]] == [k["id"]]
    assert [x["id"] for x in gw.get_usage_plans(keyId=k["id"])["items"]] == [plan["id"]]
    st, h, b = req(nimbus, "GET", p, headers={"x-api-key": "a" * 24})
    assert st == 200, b
    st, h, b = req(nimbus, "GET", p, headers={"x-api-key": "b" * 24})
    assert st == 403
    gw.update_api_key(apiKey=k["id"], patchOperations=[{"op": "replace", "path": "/enabled",
                                                         "value": "false"}])
    assert req(nimbus, "GET", p, headers={"x-api-key": "a" * 24})[0] == 403
    gw.delete_usage_plan_key(usagePlanId=plan["id"], keyId=k["id"])
    assert gw.get_usage_plan_keys(usagePlanId=plan["id"])["items"] == []
    gw.delete_usage_plan(usagePlanId=plan["id"])
    with pytest.raises(ClientError) as e:
        gw.get_usage_plan(usagePlanId=plan["id"])
    assert err(e) == ("NotFoundException", "Invalid Usage Plan ID specified", 404)
    gw.delete_api_key(apiKey=k["id"])
    with pytest.raises(ClientError) as e:
        gw.delete_api_key(apiKey=k["id"])
    assert err(e)[0] == "NotFoundException"


def test_stage_method_settings(gw):
    api, root = mock_api(gw)
    gw.create_deployment(restApiId=api, stageName="prod")
    u = gw.update_stage(restApiId=api, stageName="prod", patchOperations=[
        {"op": "replace", "path": "/*/*/metrics/enabled", "value": "true"},
        {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "100.5"},
        {"op": "replace", "path": "/~1pets/GET/logging/loglevel", "value": "INFO"},
        {"op": "replace", "path": "/accessLogSettings/destinationArn",
         "value": "arn:aws:logs:us-east-1:000000000000:log-group:g"},
        {"op": "replace", "path": "/accessLogSettings/format", "value": "$context.requestId"}])
    ms = u["methodSettings"]
    assert ms["*/*"]["metricsEnabled"] is True and ms["*/*"]["throttlingRateLimit"] == 100.5
    assert ms["*/*"]["throttlingBurstLimit"] == 5000 and ms["~1pets/GET"]["loggingLevel"] == "INFO"
    assert u["accessLogSettings"] == {"destinationArn": "arn:aws:logs:us-east-1:000000000000:log-group:g",
                                      "format": "$context.requestId"}
    with pytest.raises(ClientError) as e:
        gw.update_stage(restApiId=api, stageName="prod", patchOperations=[
            {"op": "replace", "path": "/*/*/metrics/nope", "value": "true"}])
    assert err(e)[0] == "BadRequestException"
    u = gw.update_stage(restApiId=api, stageName="prod", patchOperations=[
        {"op": "remove", "path": "/*/*"}, {"op": "remove", "path": "/accessLogSettings/format"}])
    assert set(u["methodSettings"]) == {"~1pets/GET"}
    assert u["accessLogSettings"] == {"destinationArn": "arn:aws:logs:us-east-1:000000000000:log-group:g"}
    assert gw.get_stage(restApiId=api, stageName="prod")["methodSettings"]["~1pets/GET"]["loggingLevel"] == "INFO"

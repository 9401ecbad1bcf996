"""API Gateway v2 (HTTP APIs) control plane: APIs, quick create, routes,
integrations, stages, deployments, tags, and their error paths."""
import pytest

from botocore.config import Config
from botocore.exceptions import ClientError

FN = "arn:aws:lambda:us-east-1:000000000000:function:hello"


def err(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["ResponseMetadata"]["HTTPStatusCode"], e["Error"]["Message"]


def test_api_lifecycle(apigwv2, nimbus):
    a = apigwv2.create_api(Name="one", ProtocolType="HTTP", Description="d", Tags={"k": "v"})
    api = a["ApiId"]
    assert len(api) == 10
    assert a["ApiEndpoint"] == f"http://{api}.execute-api.localhost:{nimbus.port}"
    assert a["RouteSelectionExpression"] == "$request.method $request.path"  # as AWS answers
    assert a["ApiKeySelectionExpression"] == "$request.header.x-api-key"
    assert a["Tags"] == {"k": "v"} and a["DisableExecuteApiEndpoint"] is False
    got = apigwv2.get_api(ApiId=api)
    assert got["Name"] == "one" and got["Description"] == "d" and "_owner" not in got
    up = apigwv2.update_api(ApiId=api, Name="two", Version="v2")
    assert up["Name"] == "two" and up["Version"] == "v2" and up["ProtocolType"] == "HTTP"
    apigwv2.delete_api(ApiId=api)
    with pytest.raises(ClientError) as e:
        apigwv2.get_api(ApiId=api)
    assert err(e)[:2] == ("NotFoundException", 404)
    assert f"000000000000:{api}" in err(e)[2]


def test_websocket_refused_and_bad_input(apigwv2):
    with pytest.raises(ClientError) as e:
        apigwv2.create_api(Name="ws", ProtocolType="WEBSOCKET",
                           RouteSelectionExpression="$request.body.action")
    assert err(e)[:2] == ("BadRequestException", 400)
    with pytest.raises(ClientError) as e:
        apigwv2.create_api(Name="x", ProtocolType="HTTP", RouteKey="GET /a")
    assert err(e)[:2] == ("BadRequestException", 400)
    with pytest.raises(ClientError) as e:
        apigwv2.create_api(Name="x", ProtocolType="HTTP", Target="ftp://example.com/x")
    assert err(e)[:2] == ("BadRequestException", 400)
    assert apigwv2.get_apis()["Items"] == []  # nothing half-created


def test_get_apis_pagination(apigwv2):
    ids = [apigwv2.create_api(Name=f"a{i}", ProtocolType="HTTP")["ApiId"] for i in range(5)]
    p1 = apigwv2.get_apis(MaxResults="2")
    assert [x["ApiId"] for x in p1["Items"]] == ids[:2]
    p2 = apigwv2.get_apis(MaxResults="2", NextToken=p1["NextToken"])
    assert [x["ApiId"] for x in p2["Items"]] == ids[2:4]
    p3 = apigwv2.get_apis(MaxResults="2", NextToken=p2["NextToken"])
    assert [x["ApiId"] for x in p3["Items"]] == ids[4:] and "NextToken" not in p3
    with pytest.raises(ClientError) as e:
        apigwv2.get_apis(MaxResults="zero")
    assert err(e)[0] == "BadRequestException"


def test_quick_create(apigwv2):
    a = apigwv2.create_api(Name="q", ProtocolType="HTTP", Target=FN)
    api = a["ApiId"]
    [ig] = apigwv2.get_integrations(ApiId=api)["Items"]
    assert ig["IntegrationType"] == "AWS_PROXY" and ig["IntegrationUri"] == FN
    assert ig["PayloadFormatVersion"] == "2.0" and ig["ApiGatewayManaged"] is True
    assert ig["TimeoutInMillis"] == 30000
    [rt] = apigwv2.get_routes(ApiId=api)["Items"]
    assert rt["RouteKey"] == "$default" and rt["Target"] == "integrations/" + ig["IntegrationId"]
    [st] = apigwv2.get_stages(ApiId=api)["Items"]
    assert st["StageName"] == "$default" and st["AutoDeploy"] is True
    dep = apigwv2.get_deployment(ApiId=api, DeploymentId=st["DeploymentId"])
    assert dep["AutoDeployed"] is True and dep["DeploymentStatus"] == "DEPLOYED"
    b = apigwv2.create_api(Name="q2", ProtocolType="HTTP", Target=FN, RouteKey="GET /hi")
    assert apigwv2.get_routes(ApiId=b["ApiId"])["Items"][0]["RouteKey"] == "GET /hi"


@pytest.mark.parametrize("key", ["GET", "GET pets", "FETCH /pets", "GET /pets/{proxy+}/x",
                                 "GET /a//b", "GET /{a}/{a}", "GET /a{b}", "get /a", "GET  /a"])
def test_bad_route_keys(apigwv2, key):
    api = apigwv2.create_api(Name="r", ProtocolType="HTTP")["ApiId"]
    with pytest.raises(ClientError) as e:
        apigwv2.create_route(ApiId=api, RouteKey=key)
    assert err(e)[:2] == ("BadRequestException", 400)


def test_routes_and_integrations(apigwv2):
    api = apigwv2.create_api(Name="r", ProtocolType="HTTP")["ApiId"]
    ig = apigwv2.create_integration(ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=FN,
                                    PayloadFormatVersion="1.0", TimeoutInMillis=5000)
    iid = ig["IntegrationId"]
    assert ig["TimeoutInMillis"] == 5000 and ig["IntegrationMethod"] == "POST"
    for key in ["GET /pets", "ANY /pets/{id}", "POST /{proxy+}", "$default"]:
        r = apigwv2.create_route(ApiId=api, RouteKey=key, Target="integrations/" + iid)
        assert r["RouteKey"] == key and r["AuthorizationType"] == "NONE"
    with pytest.raises(ClientError) as e:
        apigwv2.create_route(ApiId=api, RouteKey="GET /pets")
    assert err(e)[:2] == ("ConflictException", 409)
    rid = apigwv2.get_routes(ApiId=api)["Items"][0]["RouteId"]
    assert apigwv2.update_route(ApiId=api, RouteId=rid, RouteKey="GET /cats")["RouteKey"] == "GET /cats"
    assert apigwv2.get_route(ApiId=api, RouteId=rid)["RouteKey"] == "GET /cats"
    with pytest.raises(ClientError) as e:
        apigwv2.create_route(ApiId=api, RouteKey="GET /x", Target="integrations/nope")
    assert err(e)[0] == "BadRequestException"
    with pytest.raises(ClientError) as e:
        apigwv2.delete_integration(ApiId=api, IntegrationId=iid)
    assert err(e)[0] == "ConflictException"
    up = apigwv2.update_integration(ApiId=api, IntegrationId=iid, PayloadFormatVersion="2.0")
    assert up["PayloadFormatVersion"] == "2.0" and up["TimeoutInMillis"] == 5000
    for r in apigwv2.get_routes(ApiId=api)["Items"]:
        apigwv2.delete_route(ApiId=api, RouteId=r["RouteId"])
    apigwv2.delete_integration(ApiId=api, IntegrationId=iid)
    with pytest.raises(ClientError) as e:
        apigwv2.get_integration(ApiId=api, IntegrationId=iid)
    assert err(e)[:2] == ("NotFoundException", 404)
    with pytest.raises(ClientError) as e:
        apigwv2.get_route(ApiId=api, RouteId=rid)
    assert err(e)[:2] == ("NotFoundException", 404)


@pytest.mark.parametrize("kw", [
    dict(IntegrationType="AWS_PROXY", IntegrationUri=FN),  # no PayloadFormatVersion
    dict(IntegrationType="AWS_PROXY", IntegrationUri=FN, PayloadFormatVersion="3.0"),
    dict(IntegrationType="AWS_PROXY", IntegrationUri="arn:aws:sqs:us-east-1:000000000000:q",
         PayloadFormatVersion="2.0"),
    dict(IntegrationType="AWS_PROXY", IntegrationUri=FN + ":bad/qual", PayloadFormatVersion="2.0"),
    dict(IntegrationType="AWS_PROXY", IntegrationUri=FN, PayloadFormatVersion="2.0",
         TimeoutInMillis=49),
    dict(IntegrationType="AWS_PROXY", IntegrationUri=FN, PayloadFormatVersion="2.0",
         TimeoutInMillis=30001),
    dict(IntegrationType="MOCK"),
    dict(IntegrationType="HTTP_PROXY", IntegrationUri="ftp://example.com",
         IntegrationMethod="GET"),
    dict(IntegrationType="HTTP_PROXY", IntegrationUri="https://example.com"),  # no method
    dict(IntegrationType="HTTP_PROXY", IntegrationUri="https://example.com",
         IntegrationMethod="GET", PayloadFormatVersion="2.0"),
])
def test_bad_integrations(nimbus, apigwv2, kw):
    # the server's checks, not botocore's (TimeoutInMillis=49 is below the model's min)
    apigwv2 = nimbus.client("apigatewayv2", config=Config(parameter_validation=False))
    api = apigwv2.create_api(Name="i", ProtocolType="HTTP")["ApiId"]
    with pytest.raises(ClientError) as e:
        apigwv2.create_integration(ApiId=api, **kw)
    assert err(e)[:2] == ("BadRequestException", 400)
    assert apigwv2.get_integrations(ApiId=api)["Items"] == []


def test_integration_uri_forms(apigwv2):
    api = apigwv2.create_api(Name="i", ProtocolType="HTTP")["ApiId"]
    for uri in [FN + ":live", FN + ":3",
                f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FN}/invocations"]:
        ig = apigwv2.create_integration(ApiId=api, IntegrationType="AWS_PROXY",
                                        IntegrationUri=uri, PayloadFormatVersion="2.0")
        assert ig["IntegrationUri"] == uri


def test_stages_and_deployments(apigwv2):
    api = apigwv2.create_api(Name="s", ProtocolType="HTTP")["ApiId"]
    with pytest.raises(ClientError) as e:
        apigwv2.create_deployment(ApiId=api)
    assert err(e)[0] == "BadRequestException"  # no routes yet
    ig = apigwv2.create_integration(ApiId=api, IntegrationType="AWS_PROXY", IntegrationUri=FN,
                                    PayloadFormatVersion="2.0")["IntegrationId"]
    apigwv2.create_route(ApiId=api, RouteKey="GET /a", Target="integrations/" + ig)
    st = apigwv2.create_stage(ApiId=api, StageName="prod", StageVariables={"v": "1"})
    assert st["AutoDeploy"] is False and "DeploymentId" not in st
    assert st["StageVariables"] == {"v": "1"}
    with pytest.raises(ClientError) as e:
        apigwv2.create_stage(ApiId=api, StageName="prod")
    assert err(e)[:2] == ("ConflictException", 409)
    with pytest.raises(ClientError) as e:
        apigwv2.create_stage(ApiId=api, StageName="bad name")
    assert err(e)[0] == "BadRequestException"
    d = apigwv2.create_deployment(ApiId=api, StageName="prod", Description="first")
    assert d["AutoDeployed"] is False and d["Description"] == "first"
    assert apigwv2.get_stage(ApiId=api, StageName="prod")["DeploymentId"] == d["DeploymentId"]
    with pytest.raises(ClientError) as e:
        apigwv2.delete_deployment(ApiId=api, DeploymentId=d["DeploymentId"])
    assert err(e)[0] == "BadRequestException"  # prod uses it
    auto = apigwv2.create_stage(ApiId=api, StageName="dev", AutoDeploy=True)
    first = auto["DeploymentId"]
    apigwv2.create_route(ApiId=api, RouteKey="GET /b", Target="integrations/" + ig)
    again = apigwv2.get_stage(ApiId=api, StageName="dev")["DeploymentId"]
    assert again != first  # redeployed on the change
    assert apigwv2.get_stage(ApiId=api, StageName="prod")["DeploymentId"] == d["DeploymentId"]
    up = apigwv2.update_stage(ApiId=api, StageName="prod", StageVariables={"w": "2"})
    assert up["StageVariables"] == {"v": "1", "w": "2"}
    ids = {x["DeploymentId"] for x in apigwv2.get_deployments(ApiId=api)["Items"]}
    assert {d["DeploymentId"], first, again} <= ids
    apigwv2.delete_stage(ApiId=api, StageName="prod")
    apigwv2.delete_deployment(ApiId=api, DeploymentId=d["DeploymentId"])
    with pytest.raises(ClientError) as e:
        apigwv2.get_deployment(ApiId=api, DeploymentId=d["DeploymentId"])
    assert err(e)[:2] == ("NotFoundException", 404)
    with pytest.raises(ClientError) as e:
        apigwv2.get_stage(ApiId=api, StageName="prod")
    assert err(e)[:2] == ("NotFoundException", 404)


def test_tags(apigwv2):
    api = apigwv2.create_api(Name="t", ProtocolType="HTTP", Tags={"a": "1"})["ApiId"]
    arn = f"arn:aws:apigateway:us-east-1::/apis/{api}"
    apigwv2.tag_resource(ResourceArn=arn, Tags={"b": "2"})
    assert apigwv2.get_tags(ResourceArn=arn)["Tags"] == {"a": "1", "b": "2"}
    apigwv2.untag_resource(ResourceArn=arn, TagKeys=["a"])
    assert apigwv2.get_tags(ResourceArn=arn)["Tags"] == {"b": "2"}
    assert apigwv2.get_api(ApiId=api)["Tags"] == {"b": "2"}
    apigwv2.create_stage(ApiId=api, StageName="s1", Tags={"x": "y"})
    assert apigwv2.get_tags(ResourceArn=arn + "/stages/s1")["Tags"] == {"x": "y"}
    with pytest.raises(ClientError) as e:
        apigwv2.get_tags(ResourceArn=f"arn:aws:apigateway:us-east-1::/apis/nope")
    assert err(e)[:2] == ("NotFoundException", 404)


def test_unknown_api_everywhere(apigwv2):
    for call in [lambda: apigwv2.get_routes(ApiId="nope"),
                 lambda: apigwv2.create_route(ApiId="nope", RouteKey="GET /a"),
                 lambda: apigwv2.get_stages(ApiId="nope"),
                 lambda: apigwv2.delete_api(ApiId="nope")]:
        with pytest.raises(ClientError) as e:
            call()
        assert err(e)[:2] == ("NotFoundException", 404)


def test_durable(nimbus_fresh):
    n = nimbus_fresh(durable=True)
    c = n.client("apigatewayv2")
    api = c.create_api(Name="d", ProtocolType="HTTP", Target=FN)["ApiId"]
    n.restart()
    c = n.client("apigatewayv2")
    assert c.get_api(ApiId=api)["Name"] == "d"
    assert len(c.get_routes(ApiId=api)["Items"]) == 1

"""HTTP triggers: API Gateway v2 HTTP APIs and Lambda function URLs.

Control with boto3 (`apigatewayv2`, `lambda`), requests with plain
`http.client`, through both URL forms: the path form
(`/_api/{apiId}/...`, `/_url/{urlId}/...`) and the Host form
(`{apiId}.execute-api.localhost`, `{urlId}.lambda-url.{region}.localhost`).
Event shapes are compared key by key with the examples of the API Gateway
developer guide (payload 2.0 and 1.0) and the Lambda developer guide
(function URLs).
"""

import base64
import http.client
import json
import statistics
import time
import urllib.parse

import botocore.exceptions
import pytest

from conftest import create, unique, zip_files

# Echoes the event, or answers with the response the client asks for
# (`/raw` routes: the request body is the function's return value).
ECHO = r"""
import base64, json, time
def handler(event, context):
    path = event.get("rawPath") or event.get("path") or ""
    body = event.get("body")
    if event.get("isBase64Encoded") and body is not None:
        body = base64.b64decode(body).decode("latin-1")
    if path.endswith("/raw"):
        return json.loads(body)
    if path.endswith("/fail"):
        raise RuntimeError("asked to fail")
    if path.endswith("/sleep"):
        time.sleep(float(event.get("queryStringParameters", {}).get("s", "1")))
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": json.dumps(event)}
"""

NOOP = """
def handler(event, context):
    return {"statusCode": 200, "body": "ok"}
"""

# Keys of the documented examples.
V2_KEYS = {"version", "routeKey", "rawPath", "rawQueryString", "cookies", "headers", "queryStringParameters",
           "requestContext", "body", "pathParameters", "isBase64Encoded", "stageVariables"}
V2_CONTEXT_KEYS = {"accountId", "apiId", "domainName", "domainPrefix", "http", "requestId", "routeKey", "stage",
                   "time", "timeEpoch"}
V2_HTTP_KEYS = {"method", "path", "protocol", "sourceIp", "userAgent"}
V1_KEYS = {"version", "resource", "path", "httpMethod", "headers", "multiValueHeaders", "queryStringParameters",
           "multiValueQueryStringParameters", "requestContext", "pathParameters", "stageVariables", "body",
           "isBase64Encoded"}
V1_CONTEXT_KEYS = {"accountId", "apiId", "authorizer", "domainName", "domainPrefix", "extendedRequestId",
                   "httpMethod", "identity", "path", "protocol", "requestId", "requestTime", "requestTimeEpoch",
                   "resourceId", "resourcePath", "stage"}
V1_IDENTITY_KEYS = {"accessKey", "accountId", "caller", "cognitoAuthenticationProvider", "cognitoAuthenticationType",
                    "cognitoIdentityId", "cognitoIdentityPoolId", "principalOrgId", "sourceIp", "user", "userAgent",
                    "userArn"}
URL_CONTEXT_KEYS = V2_CONTEXT_KEYS | {"authentication", "authorizer"}


@pytest.fixture(scope="module")
def apigw(server):
    return server.client("apigatewayv2")


@pytest.fixture(scope="module")
def echo_fn(lam):
    return create(lam, {"app.py": ECHO}, Timeout=5)


def function_arn(lam, name, qualifier=None):
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    return f"{arn}:{qualifier}" if qualifier else arn


def request(server, method, path, body=None, headers=None, host=None):
    """(status, headers as a list of pairs, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    h = dict(headers or {})
    if host:
        h["Host"] = host
    conn.request(method, path, body=body, headers=h)
    resp = conn.getresponse()
    out = resp.status, resp.getheaders(), resp.read()
    conn.close()
    return out


def header(headers, name):
    values = [v for k, v in headers if k.lower() == name.lower()]
    return values[-1] if values else None


def make_api(apigw, lam, fn, routes, version="2.0", stage="$default", **integration):
    api = apigw.create_api(Name=unique("api"), ProtocolType="HTTP")
    integ = apigw.create_integration(ApiId=api["ApiId"], IntegrationType="AWS_PROXY",
                                     IntegrationUri=function_arn(lam, fn), PayloadFormatVersion=version,
                                     **integration)
    for key in routes:
        apigw.create_route(ApiId=api["ApiId"], RouteKey=key, Target="integrations/" + integ["IntegrationId"])
    apigw.create_stage(ApiId=api["ApiId"], StageName=stage, AutoDeploy=True)
    return api["ApiId"], integ["IntegrationId"]


def event_of(status_headers_body):
    status, _, body = status_headers_body
    assert status == 200, body
    return json.loads(body)


# ---- control API ----

def test_api_control_round_trip(apigw, lam, echo_fn):
    api = apigw.create_api(Name="pets", ProtocolType="HTTP", Description="d", Tags={"team": "a"})
    api_id = api["ApiId"]
    assert len(api_id) == 10 and api["ProtocolType"] == "HTTP"
    assert api["RouteSelectionExpression"] == "$request.method $request.path"
    assert api["ApiEndpoint"].startswith(f"http://{api_id}.execute-api.localhost:")
    assert apigw.get_api(ApiId=api_id)["Name"] == "pets"
    assert api_id in [a["ApiId"] for a in apigw.get_apis()["Items"]]
    assert apigw.update_api(ApiId=api_id, Name="pets2")["Name"] == "pets2"

    integ = apigw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY",
                                     IntegrationUri=function_arn(lam, echo_fn), PayloadFormatVersion="2.0")
    assert integ["IntegrationType"] == "AWS_PROXY" and integ["PayloadFormatVersion"] == "2.0"
    assert integ["TimeoutInMillis"] == 30000
    route = apigw.create_route(ApiId=api_id, RouteKey="GET /pets/{id}",
                               Target="integrations/" + integ["IntegrationId"])
    assert route["RouteKey"] == "GET /pets/{id}" and route["AuthorizationType"] == "NONE"
    assert apigw.get_route(ApiId=api_id, RouteId=route["RouteId"])["Target"] == "integrations/" + integ["IntegrationId"]
    assert [r["RouteId"] for r in apigw.get_routes(ApiId=api_id)["Items"]] == [route["RouteId"]]
    updated = apigw.update_route(ApiId=api_id, RouteId=route["RouteId"], RouteKey="GET /pets/{petId}")
    assert updated["RouteKey"] == "GET /pets/{petId}"
    assert apigw.get_integration(ApiId=api_id, IntegrationId=integ["IntegrationId"])["IntegrationUri"].endswith(echo_fn)
    assert len(apigw.get_integrations(ApiId=api_id)["Items"]) == 1
    stage = apigw.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    assert stage["StageName"] == "$default" and stage["AutoDeploy"] is True
    assert apigw.get_stage(ApiId=api_id, StageName="$default")["StageName"] == "$default"
    assert [s["StageName"] for s in apigw.get_stages(ApiId=api_id)["Items"]] == ["$default"]

    # An integration in use cannot go; a route, then the integration can.
    with pytest.raises(apigw.exceptions.ConflictException):
        apigw.delete_integration(ApiId=api_id, IntegrationId=integ["IntegrationId"])
    apigw.delete_route(ApiId=api_id, RouteId=route["RouteId"])
    apigw.delete_integration(ApiId=api_id, IntegrationId=integ["IntegrationId"])
    apigw.delete_stage(ApiId=api_id, StageName="$default")
    apigw.delete_api(ApiId=api_id)
    with pytest.raises(apigw.exceptions.NotFoundException):
        apigw.get_api(ApiId=api_id)


def test_quick_create(apigw, lam, echo_fn, server):
    api = apigw.create_api(Name=unique("quick"), ProtocolType="HTTP", Target=function_arn(lam, echo_fn))
    event = event_of(request(server, "GET", f"/_api/{api['ApiId']}/anything?x=1"))
    assert event["routeKey"] == "$default" and event["rawPath"] == "/anything"


def test_bad_input_gets_aws_errors(apigw, lam, echo_fn):
    api_id = apigw.create_api(Name=unique("bad"), ProtocolType="HTTP")["ApiId"]
    integ = apigw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY",
                                     IntegrationUri=function_arn(lam, echo_fn), PayloadFormatVersion="2.0")
    target = "integrations/" + integ["IntegrationId"]
    for key in ["GET", "FETCH /x", "GET pets", "GET /{proxy+}/more", "GET /a//b", "GET /{}"]:
        with pytest.raises(apigw.exceptions.BadRequestException):
            apigw.create_route(ApiId=api_id, RouteKey=key, Target=target)
    with pytest.raises(apigw.exceptions.BadRequestException):
        apigw.create_route(ApiId=api_id, RouteKey="GET /x", Target="integrations/nope123")
    with pytest.raises(apigw.exceptions.BadRequestException):
        apigw.create_route(ApiId=api_id, RouteKey="GET /x", Target="somewhere")
    apigw.create_route(ApiId=api_id, RouteKey="GET /x/{a}", Target=target)
    with pytest.raises(apigw.exceptions.ConflictException):
        apigw.create_route(ApiId=api_id, RouteKey="GET /x/{b}", Target=target)
    with pytest.raises(apigw.exceptions.BadRequestException):
        apigw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri="not an arn",
                                 PayloadFormatVersion="2.0")
    with pytest.raises(apigw.exceptions.BadRequestException):
        apigw.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY",
                                 IntegrationUri=function_arn(lam, echo_fn), PayloadFormatVersion="3.0")
    with pytest.raises(apigw.exceptions.BadRequestException):
        apigw.create_api(Name="ws", ProtocolType="WEBSOCKET")
    with pytest.raises(apigw.exceptions.NotFoundException):
        apigw.create_route(ApiId="nosuchapi0", RouteKey="GET /x")
    with pytest.raises(apigw.exceptions.NotFoundException):
        apigw.get_route(ApiId=api_id, RouteId="nope")
    with pytest.raises(apigw.exceptions.NotFoundException):
        apigw.get_stage(ApiId=api_id, StageName="nope")
    apigw.create_stage(ApiId=api_id, StageName="$default")
    with pytest.raises(apigw.exceptions.ConflictException):
        apigw.create_stage(ApiId=api_id, StageName="$default")
    with pytest.raises(apigw.exceptions.BadRequestException):
        apigw.create_stage(ApiId=api_id, StageName="bad stage!")


def test_unknown_function_is_a_500_not_a_crash(apigw, lam, server):
    api = apigw.create_api(Name=unique("ghost"), ProtocolType="HTTP")
    integ = apigw.create_integration(
        ApiId=api["ApiId"], IntegrationType="AWS_PROXY", PayloadFormatVersion="2.0",
        IntegrationUri="arn:aws:lambda:us-east-1:000000000000:function:" + unique("missing"))
    apigw.create_route(ApiId=api["ApiId"], RouteKey="$default", Target="integrations/" + integ["IntegrationId"])
    apigw.create_stage(ApiId=api["ApiId"], StageName="$default")
    status, _, body = request(server, "GET", f"/_api/{api['ApiId']}/x")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})
    status, _, body = request(server, "GET", "/_api/nosuchapi0/x")
    assert (status, json.loads(body)) == (404, {"message": "Not Found"})


# ---- events ----

def test_payload_v2_shape(apigw, lam, echo_fn, server):
    api_id, _ = make_api(apigw, lam, echo_fn, ["POST /pets/{id}"])
    status, _, body = request(
        server, "POST", f"/_api/{api_id}/pets/42?parameter1=value1&parameter1=value2&parameter2=value",
        body=b'{"hello": "world"}',
        headers={"Content-Type": "application/json", "User-Agent": "agent", "X-Multi": "a",
                 "Cookie": "cookie1=1; cookie2=2"})
    event = event_of((status, None, body))
    assert set(event) == V2_KEYS - {"stageVariables"}, set(event) ^ V2_KEYS
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /pets/{id}"
    assert event["rawPath"] == "/pets/42"
    assert event["rawQueryString"] == "parameter1=value1&parameter1=value2&parameter2=value"
    assert event["queryStringParameters"] == {"parameter1": "value1,value2", "parameter2": "value"}
    assert event["cookies"] == ["cookie1=1", "cookie2=2"]
    assert event["pathParameters"] == {"id": "42"}
    assert event["body"] == '{"hello": "world"}' and event["isBase64Encoded"] is False
    assert all(k == k.lower() for k in event["headers"])
    assert event["headers"]["x-multi"] == "a" and event["headers"]["content-type"] == "application/json"
    assert "cookie" not in event["headers"]
    ctx = event["requestContext"]
    assert set(ctx) == V2_CONTEXT_KEYS, set(ctx) ^ V2_CONTEXT_KEYS
    assert set(ctx["http"]) == V2_HTTP_KEYS
    assert ctx["http"] == {"method": "POST", "path": "/pets/42", "protocol": "HTTP/1.1",
                           "sourceIp": "127.0.0.1", "userAgent": "agent"}
    assert ctx["apiId"] == api_id and ctx["domainPrefix"] == api_id
    assert ctx["accountId"] == "000000000000" and ctx["stage"] == "$default"
    assert ctx["routeKey"] == "POST /pets/{id}"
    assert isinstance(ctx["timeEpoch"], int) and abs(ctx["timeEpoch"] / 1000 - time.time()) < 60
    time.strptime(ctx["time"], "%d/%b/%Y:%H:%M:%S +0000")


def test_payload_v2_binary_body_and_minimal_request(apigw, lam, echo_fn, server):
    api_id, _ = make_api(apigw, lam, echo_fn, ["ANY /bin"])
    blob = bytes(range(256))
    event = event_of(request(server, "PUT", f"/_api/{api_id}/bin", body=blob,
                             headers={"Content-Type": "application/octet-stream"}))
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == blob
    event = event_of(request(server, "GET", f"/_api/{api_id}/bin"))
    for absent in ["body", "cookies", "queryStringParameters", "pathParameters", "stageVariables"]:
        assert absent not in event, absent
    assert event["rawQueryString"] == "" and event["isBase64Encoded"] is False


def test_payload_v1_shape(apigw, lam, echo_fn, server):
    api_id, _ = make_api(apigw, lam, echo_fn, ["GET /items/{id}", "POST /bin"], version="1.0")
    event = event_of(request(server, "GET", f"/_api/{api_id}/items/7?a=1&a=2&b=3",
                             headers={"User-Agent": "ua", "Cookie": "c=1"}))
    assert set(event) == V1_KEYS, set(event) ^ V1_KEYS
    assert event["version"] == "1.0" and event["httpMethod"] == "GET"
    assert event["resource"] == "/items/{id}" and event["path"] == "/items/7"
    assert event["queryStringParameters"] == {"a": "2", "b": "3"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["3"]}
    assert event["pathParameters"] == {"id": "7"}
    assert event["headers"]["cookie"] == "c=1" and event["multiValueHeaders"]["user-agent"] == ["ua"]
    assert event["body"] is None and event["isBase64Encoded"] is False and event["stageVariables"] is None
    ctx = event["requestContext"]
    assert set(ctx) == V1_CONTEXT_KEYS, set(ctx) ^ V1_CONTEXT_KEYS
    assert set(ctx["identity"]) == V1_IDENTITY_KEYS
    assert ctx["identity"]["sourceIp"] == "127.0.0.1" and ctx["identity"]["userAgent"] == "ua"
    assert ctx["httpMethod"] == "GET" and ctx["stage"] == "$default" and ctx["resourcePath"] == "/items/{id}"
    assert ctx["authorizer"] == {"claims": None, "scopes": None}
    event = event_of(request(server, "POST", f"/_api/{api_id}/bin", body=b"\xff\x00",
                             headers={"Content-Type": "image/png"}))
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\xff\x00"
    assert event["queryStringParameters"] is None and event["multiValueQueryStringParameters"] is None


def test_host_based_routing(apigw, lam, echo_fn, server):
    api_id, _ = make_api(apigw, lam, echo_fn, ["GET /hello"])
    event = event_of(request(server, "GET", "/hello?x=1", host=f"{api_id}.execute-api.localhost:{server.port}"))
    assert event["rawPath"] == "/hello" and event["routeKey"] == "GET /hello"
    assert event["requestContext"]["domainName"] == f"{api_id}.execute-api.localhost"


def test_named_stage_and_stage_variables(apigw, lam, echo_fn, server):
    api_id, _ = make_api(apigw, lam, echo_fn, ["GET /hello"], stage="prod")
    apigw.update_stage(ApiId=api_id, StageName="prod", StageVariables={"color": "blue"})
    event = event_of(request(server, "GET", f"/_api/{api_id}/prod/hello"))
    assert event["requestContext"]["stage"] == "prod"
    assert event["stageVariables"] == {"color": "blue"}
    assert event["rawPath"] == "/prod/hello"
    assert request(server, "GET", f"/_api/{api_id}/hello")[0] == 404


# ---- routing ----

def test_route_precedence_and_greedy_paths(apigw, lam, echo_fn, server):
    keys = ["GET /pets/dog", "GET /pets/{id}", "ANY /pets/{proxy+}", "POST /pets/{id}", "GET /", "$default"]
    api_id, _ = make_api(apigw, lam, echo_fn, keys)

    def route(method, path):
        event = event_of(request(server, method, f"/_api/{api_id}{path}", body=b"" if method != "GET" else None))
        return event["routeKey"], event.get("pathParameters")

    assert route("GET", "/pets/dog") == ("GET /pets/dog", None)
    assert route("GET", "/pets/cat") == ("GET /pets/{id}", {"id": "cat"})
    assert route("POST", "/pets/cat") == ("POST /pets/{id}", {"id": "cat"})
    assert route("DELETE", "/pets/cat") == ("ANY /pets/{proxy+}", {"proxy": "cat"})
    assert route("GET", "/pets/a/b/c") == ("ANY /pets/{proxy+}", {"proxy": "a/b/c"})
    assert route("GET", "/pets/a%20b") == ("GET /pets/{id}", {"id": "a b"})
    assert route("GET", "/") == ("GET /", None)
    assert route("GET", "/pets") == ("$default", None)
    assert route("PATCH", "/other/thing") == ("$default", None)


def test_no_route_is_not_found(apigw, lam, echo_fn, server):
    api_id, _ = make_api(apigw, lam, echo_fn, ["GET /only"])
    status, headers, body = request(server, "GET", f"/_api/{api_id}/elsewhere")
    assert (status, json.loads(body)) == (404, {"message": "Not Found"})
    assert request(server, "POST", f"/_api/{api_id}/only")[0] == 404


# ---- responses ----

def raw(server, api_id, response):
    return request(server, "POST", f"/_api/{api_id}/raw", body=json.dumps(response).encode(),
                   headers={"Content-Type": "application/json"})


def test_response_mapping_v2(apigw, lam, echo_fn, server):
    api_id, _ = make_api(apigw, lam, echo_fn, ["POST /raw"])
    status, headers, body = raw(server, api_id, {
        "statusCode": 201, "headers": {"X-Custom": "yes", "Content-Type": "text/plain"},
        "multiValueHeaders": {"X-Multi": ["1", "2"]},
        "cookies": ["a=1; Max-Age=60", "b=2"], "body": "created"})
    assert status == 201 and body == b"created"
    assert header(headers, "x-custom") == "yes" and header(headers, "content-type") == "text/plain"
    assert [v for k, v in headers if k.lower() == "set-cookie"] == ["a=1; Max-Age=60", "b=2"]
    assert [v for k, v in headers if k.lower() == "x-multi"] == ["1", "2"]
    assert header(headers, "apigw-requestid")
    # Binary body.
    png = b"\x89PNG\r\n\x1a\n\x00\xff"
    status, headers, body = raw(server, api_id, {"statusCode": 200, "isBase64Encoded": True,
                                                 "headers": {"content-type": "image/png"},
                                                 "body": base64.b64encode(png).decode()})
    assert (status, body, header(headers, "content-type")) == (200, png, "image/png")
    # Bare values: status 200, JSON, the payload as the body.
    status, headers, body = raw(server, api_id, "Hello from Lambda!")
    assert (status, header(headers, "content-type"), json.loads(body)) == (200, "application/json", "Hello from Lambda!")
    status, headers, body = raw(server, api_id, {"message": "hi"})
    assert (status, json.loads(body)) == (200, {"message": "hi"})
    # Malformed: a status that is not one, a body that is not a string.
    for bad in [{"statusCode": "teapot"}, {"statusCode": 200, "body": {"not": "a string"}}]:
        status, _, body = raw(server, api_id, bad)
        assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"}), bad


def test_response_mapping_v1(apigw, lam, echo_fn, server):
    api_id, _ = make_api(apigw, lam, echo_fn, ["POST /raw"], version="1.0")
    status, headers, body = raw(server, api_id, {"statusCode": 202, "headers": {"x-one": "1"},
                                                 "multiValueHeaders": {"x-two": ["a", "b"]}, "body": "ok"})
    assert (status, body, header(headers, "x-one")) == (202, b"ok", "1")
    assert [v for k, v in headers if k.lower() == "x-two"] == ["a", "b"]
    # 1.0 infers nothing: a bare value is malformed.
    status, _, body = raw(server, api_id, {"message": "hi"})
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})


def test_function_error_and_timeouts(apigw, lam, echo_fn, server):
    api_id, _ = make_api(apigw, lam, echo_fn, ["GET /fail", "GET /sleep"], TimeoutInMillis=500)
    status, _, body = request(server, "GET", f"/_api/{api_id}/fail")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})
    # The integration gives up first: API Gateway's 503.
    status, _, body = request(server, "GET", f"/_api/{api_id}/sleep?s=2")
    assert (status, json.loads(body)) == (503, {"message": "Service Unavailable"})
    # The function's own timeout (5 s) ends it first: a function error, 500.
    api_id, _ = make_api(apigw, lam, echo_fn, ["GET /sleep"], TimeoutInMillis=29000)
    status, _, body = request(server, "GET", f"/_api/{api_id}/sleep?s=8")
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})


def test_api_cors(apigw, lam, echo_fn, server):
    api_id, _ = make_api(apigw, lam, echo_fn, ["GET /c"])
    apigw.update_api(ApiId=api_id, CorsConfiguration={"AllowOrigins": ["https://app.example"],
                                                      "AllowMethods": ["GET"], "MaxAge": 60})
    status, headers, _ = request(server, "OPTIONS", f"/_api/{api_id}/c",
                                 headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"})
    assert status == 204
    assert header(headers, "access-control-allow-origin") == "https://app.example"
    assert header(headers, "access-control-max-age") == "60"
    status, headers, _ = request(server, "GET", f"/_api/{api_id}/c", headers={"Origin": "https://app.example"})
    assert status == 200 and header(headers, "access-control-allow-origin") == "https://app.example"


# ---- function URLs ----

def url_path(url):
    """`/_url/{urlId}/` for a FunctionUrl."""
    host = urllib.parse.urlsplit(url).hostname
    return "/_url/" + host.split(".")[0] + "/"


def test_function_url_lifecycle(lam, echo_fn, server):
    name = create(lam, {"app.py": ECHO})
    cfg = lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    url = cfg["FunctionUrl"]
    parts = urllib.parse.urlsplit(url)
    assert parts.hostname.endswith(".lambda-url.us-east-1.localhost") and parts.port == server.port
    assert len(parts.hostname.split(".")[0]) == 32
    assert cfg["AuthType"] == "NONE" and cfg["FunctionArn"].endswith(":function:" + name)
    assert cfg["ResponseMetadata"]["HTTPStatusCode"] == 201
    got = lam.get_function_url_config(FunctionName=name)
    assert got["FunctionUrl"] == url and got["InvokeMode"] == "BUFFERED" and "LastModifiedTime" in got
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.create_function_url_config(FunctionName=name, AuthType="NONE")
    updated = lam.update_function_url_config(FunctionName=name, Cors={"AllowOrigins": ["*"], "MaxAge": 10})
    assert updated["Cors"] == {"AllowOrigins": ["*"], "MaxAge": 10} and updated["FunctionUrl"] == url
    listed = lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]
    assert [c["FunctionUrl"] for c in listed] == [url]

    # Invoke by path and by host: the payload 2.0 shape of function URLs.
    event = event_of(request(server, "POST", url_path(url) + "some/path?q=1", body=b"hi",
                             headers={"Content-Type": "text/plain", "Cookie": "k=v"}))
    assert set(event) <= V2_KEYS and "pathParameters" not in event and "stageVariables" not in event
    assert set(event["requestContext"]) == URL_CONTEXT_KEYS, set(event["requestContext"]) ^ URL_CONTEXT_KEYS
    assert event["routeKey"] == "$default" and event["rawPath"] == "/some/path"
    assert event["rawQueryString"] == "q=1" and event["queryStringParameters"] == {"q": "1"}
    assert event["body"] == "hi" and event["cookies"] == ["k=v"]
    ctx = event["requestContext"]
    url_id = parts.hostname.split(".")[0]
    assert ctx["apiId"] == url_id and ctx["domainPrefix"] == url_id
    assert ctx["domainName"] == f"{url_id}.lambda-url.us-east-1.localhost"
    assert ctx["authorizer"] is None and ctx["authentication"] is None
    status, headers, body = request(server, "GET", "/x", host=parts.netloc)
    assert status == 200 and json.loads(body)["rawPath"] == "/x"
    assert header(headers, "x-amzn-requestid") == json.loads(body)["requestContext"]["requestId"]

    lam.delete_function_url_config(FunctionName=name)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_url_config(FunctionName=name)
    assert request(server, "GET", url_path(url))[0] == 403


def test_function_url_responses_and_errors(lam, server):
    name = create(lam, {"app.py": ECHO}, Timeout=1)
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    base = url_path(url)
    status, headers, body = request(server, "POST", base + "raw", body=json.dumps("Hello, world!").encode(),
                                    headers={"Content-Type": "application/json"})
    assert (status, body, header(headers, "content-type")) == (200, b'"Hello, world!"', "application/json")
    status, headers, body = request(server, "POST", base + "raw", headers={"Content-Type": "application/json"},
                                    body=json.dumps({"statusCode": 201, "body": "x", "cookies": ["a=1"]}).encode())
    assert (status, body, header(headers, "set-cookie")) == (201, b"x", "a=1")
    assert request(server, "GET", base + "fail")[0] == 502
    assert request(server, "GET", base + "sleep?s=3")[0] == 502


def test_function_url_cors_preflight(lam, server):
    name = create(lam, {"app.py": ECHO})
    url = lam.create_function_url_config(FunctionName=name, AuthType="NONE", Cors={
        "AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"],
        "AllowHeaders": ["x-custom"], "ExposeHeaders": ["x-out"], "MaxAge": 300, "AllowCredentials": True,
    })["FunctionUrl"]
    base = url_path(url)
    status, headers, body = request(server, "OPTIONS", base, headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "POST"})
    assert status == 200
    assert header(headers, "access-control-allow-origin") == "https://app.example"
    assert header(headers, "access-control-allow-methods") == "GET,POST"
    assert header(headers, "access-control-allow-headers") == "x-custom"
    assert header(headers, "access-control-max-age") == "300"
    assert header(headers, "access-control-allow-credentials") == "true"
    status, headers, _ = request(server, "OPTIONS", base, headers={
        "Origin": "https://other.example", "Access-Control-Request-Method": "POST"})
    assert header(headers, "access-control-allow-origin") is None
    status, headers, _ = request(server, "GET", base, headers={"Origin": "https://app.example"})
    assert status == 200
    assert header(headers, "access-control-allow-origin") == "https://app.example"
    assert header(headers, "access-control-expose-headers") == "x-out"


def test_function_url_bad_input(lam):
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.create_function_url_config(FunctionName=unique("missing"), AuthType="NONE")
    name = create(lam, {"app.py": ECHO})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.create_function_url_config(FunctionName=name, AuthType="SOMETIMES")
    assert e.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_function_url_config(FunctionName=name, AuthType="NONE", Qualifier="1")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.create_function_url_config(FunctionName=name, AuthType="NONE", Qualifier="noalias")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_url_config(FunctionName=name)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.delete_function_url_config(FunctionName=name)


def test_function_url_for_alias(lam, server):
    name = create(lam, {"app.py": ECHO})
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
    cfg = lam.create_function_url_config(FunctionName=name, Qualifier="live", AuthType="AWS_IAM")
    assert cfg["FunctionArn"].endswith(f":function:{name}:live") and cfg["AuthType"] == "AWS_IAM"
    # No IAM in Lamina yet: AWS_IAM URLs are served like NONE.
    assert request(server, "GET", url_path(cfg["FunctionUrl"]))[0] == 200
    assert lam.get_function_url_config(FunctionName=name, Qualifier="live")["FunctionUrl"] == cfg["FunctionUrl"]
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_url_config(FunctionName=name)


def test_deleting_a_function_or_alias_removes_its_urls(lam, server):
    name = create(lam, {"app.py": ECHO})
    version = lam.publish_version(FunctionName=name)["Version"]
    for alias in ("live", "beta"):
        lam.create_alias(FunctionName=name, Name=alias, FunctionVersion=version)
    plain = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    live = lam.create_function_url_config(FunctionName=name, Qualifier="live", AuthType="NONE")["FunctionUrl"]
    beta = lam.create_function_url_config(FunctionName=name, Qualifier="beta", AuthType="NONE")["FunctionUrl"]
    for url in (plain, live, beta):
        assert request(server, "GET", url_path(url))[0] == 200

    # Deleting an alias removes that alias's URL only.
    lam.delete_alias(FunctionName=name, Name="live")
    assert request(server, "GET", url_path(live))[0] == 403
    assert request(server, "GET", url_path(beta))[0] == 200
    assert request(server, "GET", url_path(plain))[0] == 200
    urls = {c["FunctionUrl"] for c in lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"]}
    assert urls == {plain, beta}

    # Deleting a version keeps the URLs of the function and its aliases.
    lam.update_function_code(FunctionName=name, ZipFile=zip_files({"app.py": ECHO + "\n# second\n"}))
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})
    other = lam.publish_version(FunctionName=name)["Version"]
    assert other != version
    lam.delete_function(FunctionName=name, Qualifier=other)
    assert request(server, "GET", url_path(beta))[0] == 200

    # Deleting the function removes every URL: they answer 403 (no such
    # URL), not 502, and a function created again under the name has none.
    lam.delete_function(FunctionName=name)
    for url in (plain, beta):
        assert request(server, "GET", url_path(url))[0] == 403
    create(lam, {"app.py": ECHO}, name=name)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_url_config(FunctionName=name)
    assert lam.list_function_url_configs(FunctionName=name)["FunctionUrlConfigs"] == []
    again = lam.create_function_url_config(FunctionName=name, AuthType="NONE")["FunctionUrl"]
    assert again != plain and request(server, "GET", url_path(again))[0] == 200


# ---- durability ----

def test_restart_keeps_apis_and_urls(start_server):
    srv = start_server()
    lam, apigw = srv.client("lambda"), srv.client("apigatewayv2")
    fn = create(lam, {"app.py": ECHO})
    api_id, integ_id = make_api(apigw, lam, fn, ["GET /pets/{id}"], version="1.0")
    url = lam.create_function_url_config(FunctionName=fn, AuthType="NONE",
                                         Cors={"AllowOrigins": ["*"]})["FunctionUrl"]
    srv.stop()
    srv.start()
    lam, apigw = srv.client("lambda"), srv.client("apigatewayv2")
    assert apigw.get_api(ApiId=api_id)["ApiId"] == api_id
    assert apigw.get_integration(ApiId=api_id, IntegrationId=integ_id)["PayloadFormatVersion"] == "1.0"
    assert [r["RouteKey"] for r in apigw.get_routes(ApiId=api_id)["Items"]] == ["GET /pets/{id}"]
    assert lam.get_function_url_config(FunctionName=fn)["Cors"] == {"AllowOrigins": ["*"]}
    event = event_of(request(srv, "GET", f"/_api/{api_id}/pets/9"))
    assert event["pathParameters"] == {"id": "9"} and event["version"] == "1.0"
    assert request(srv, "GET", url_path(url))[0] == 200


# ---- overhead ----

def test_routing_overhead_vs_direct_invoke(apigw, lam, server):
    """p50 of 2000 sequential requests each: Invoke, API route, function URL.
    Reported, not asserted (timing depends on the machine)."""
    fn = create(lam, {"app.py": NOOP})
    api_id, _ = make_api(apigw, lam, fn, ["GET /bench/{id}"])
    # A few hundred more routes, so the table is not trivial.
    integ = apigw.get_integrations(ApiId=api_id)["Items"][0]["IntegrationId"]
    for i in range(200):
        apigw.create_route(ApiId=api_id, RouteKey=f"GET /r{i}/{{id}}", Target="integrations/" + integ)
    url = lam.create_function_url_config(FunctionName=fn, AuthType="NONE")["FunctionUrl"]
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)

    def p50(method, path, body=None, n=2000):
        samples = []
        for _ in range(n):
            t = time.perf_counter()
            conn.request(method, path, body=body)
            r = conn.getresponse()
            r.read()
            samples.append(time.perf_counter() - t)
            assert r.status == 200
        return statistics.median(samples) * 1e6

    direct_path = f"/2015-03-31/functions/{fn}/invocations"
    p50("POST", direct_path, b"{}", n=100)  # warm up
    direct = p50("POST", direct_path, b"{}")
    api = p50("GET", f"/_api/{api_id}/bench/1")
    furl = p50("GET", url_path(url) + "bench")
    print(f"\nOVERHEAD p50 over 2000 requests: direct Invoke {direct:.0f} us, API route {api:.0f} us "
          f"(+{api - direct:.0f} us), function URL {furl:.0f} us (+{furl - direct:.0f} us)")

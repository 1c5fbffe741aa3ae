"""A hand-written custom runtime speaking the Runtime API with urllib, used to
check the exact headers and the init-error path (FAIL_INIT=1)."""

import json
import os
import sys
import urllib.request

API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"


def post(path, body, headers=None):
    req = urllib.request.Request(API + path, data=json.dumps(body).encode(), method="POST",
                                 headers=headers or {})
    with urllib.request.urlopen(req) as r:
        return r.status


if os.environ.get("FAIL_INIT") == "1":
    post("/init/error", {"errorType": "Custom.InitFailed", "errorMessage": "init said no"},
         {"Lambda-Runtime-Function-Error-Type": "Custom.InitFailed"})
    sys.exit(1)

print("raw runtime up", flush=True)
while True:
    with urllib.request.urlopen(API + "/invocation/next") as r:
        headers = {k.lower(): v for k, v in r.headers.items()}
        event = json.loads(r.read() or b"null")
    rid = headers["lambda-runtime-aws-request-id"]
    if isinstance(event, dict) and event.get("fail"):
        status = post(f"/invocation/{rid}/error", {"errorType": "Custom.Failed", "errorMessage": "failed"},
                      {"Lambda-Runtime-Function-Error-Type": "Custom.Failed"})
    else:
        status = post(f"/invocation/{rid}/response",
                      {"headers": headers, "event": event, "env_handler": os.environ.get("_HANDLER")})
    print("posted", rid, status, flush=True)

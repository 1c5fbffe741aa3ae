"""Handler run by the official awslambdaric (pip-installed into the package)."""

import os


def handler(event, context):
    if event.get("fail"):
        raise ValueError("ric asked to fail: " + str(event.get("fail")))
    print("ric handler", context.aws_request_id)
    return {
        "ric": True,
        "echo": event,
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "handler_env": os.environ.get("_HANDLER"),
    }

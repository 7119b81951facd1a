"""hello-python: the smallest useful Python function for Swell.

Direct invoke:  {"name": "Ada"}  ->  {"message": "hello, Ada!", ...}
Function URL:   GET /fn/default/hello-python?name=Ada  (the event is the HTTP
                event, so the name comes from the query string there)
"""

import os

# Read once per instance (at init), like any module-level setup.
GREETING = os.environ.get("GREETING", "hello")


def handler(event, context):
    if not isinstance(event, dict):
        event = {}
    query = event.get("queryStringParameters") or {}
    name = event.get("name", query.get("name", "world"))
    print(f"greeting {name!r} (request {context.aws_request_id})")
    return {
        "message": f"{GREETING}, {name}!",
        "requestId": context.aws_request_id,
        "remainingMs": context.get_remaining_time_in_millis(),
    }

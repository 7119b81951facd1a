"""Each runtime answers, and the Lambda context arrives: Node (async and callback),
Python, a `provided` bash+curl bootstrap, and AWS's own awslambdaric under `provided`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from swell_e2e import REPO_ROOT, function_error, node_fn, python_fn

NODE_ASYNC = r"""
exports.handler = async (event, context) => {
  await new Promise((r) => setTimeout(r, 5));
  return {
    style: 'async',
    echo: event,
    requestId: context.awsRequestId,
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    memory: String(context.memoryLimitInMB),
    remaining: context.getRemainingTimeInMillis(),
    arn: context.invokedFunctionArn,
    greeting: process.env.GREETING,
    envFunctionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    taskRoot: process.env.LAMBDA_TASK_ROOT,
    runtimeApi: process.env.AWS_LAMBDA_RUNTIME_API,
  };
};
"""

NODE_CALLBACK = r"""
exports.handler = function (event, context, callback) {
  setTimeout(() => callback(null, {
    style: 'callback',
    sum: event.a + event.b,
    requestId: context.awsRequestId,
    functionName: context.functionName,
    memory: String(context.memoryLimitInMB),
    remaining: context.getRemainingTimeInMillis(),
  }), 10);
};
"""

PYTHON = r"""
import os, sys

def handler(event, context):
    return {
        "style": "python",
        "echo": event,
        "requestId": context.aws_request_id,
        "functionName": context.function_name,
        "functionVersion": context.function_version,
        "memory": str(context.memory_limit_in_mb),
        "remaining": context.get_remaining_time_in_millis(),
        "arn": context.invoked_function_arn,
        "greeting": os.environ.get("GREETING"),
        "python": sys.version_info[:2],
    }
"""

BASH_BOOTSTRAP = r"""#!/bin/bash
# A minimal custom runtime: bash + curl against the Lambda Runtime API.
set -u
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
HEADERS="${TMPDIR:-/tmp}/next-headers"
while true; do
  EVENT=$(curl -sS -D "$HEADERS" "$API/invocation/next")
  RID=$(grep -i '^lambda-runtime-aws-request-id:' "$HEADERS" | tr -d '\r' | awk '{print $2}')
  DEADLINE=$(grep -i '^lambda-runtime-deadline-ms:' "$HEADERS" | tr -d '\r' | awk '{print $2}')
  ARN=$(grep -i '^lambda-runtime-invoked-function-arn:' "$HEADERS" | tr -d '\r' | awk '{print $2}')
  NOW=$(date +%s%3N)
  printf '\x1f%s\x1f%s\n' "$RID" "bash runtime got an event"
  printf '\x1e%s\n' "$RID"
  BODY="{\"runtime\":\"bash\",\"requestId\":\"$RID\",\"event\":$EVENT,\"arn\":\"$ARN\",\"remaining\":$((DEADLINE - NOW)),\"functionName\":\"$AWS_LAMBDA_FUNCTION_NAME\",\"memory\":\"$AWS_LAMBDA_FUNCTION_MEMORY_SIZE\",\"handler\":\"$_HANDLER\",\"greeting\":\"${GREETING:-}\"}"
  curl -sS -o /dev/null -X POST -H 'Content-Type: application/json' --data-binary "$BODY" "$API/invocation/$RID/response"
done
"""


def check_headers(r):
    for h in ("X-Swell-Request-Id", "X-Swell-Executed-Version", "X-Swell-Duration-Ms",
              "X-Swell-Billed-Duration-Ms", "X-Swell-Init-Duration-Ms", "X-Swell-Cold-Start"):
        assert h in r.headers, f"missing {h}: {dict(r.headers)}"
    assert r.headers["X-Swell-Executed-Version"] == "$LATEST"
    assert float(r.headers["X-Swell-Duration-Ms"]) >= 0
    assert int(r.headers["X-Swell-Billed-Duration-Ms"]) >= 1
    assert r.headers["X-Swell-Cold-Start"] in ("true", "false")
    assert r.headers["Content-Type"].startswith("application/json")


def test_node_async_handler(swell, app_dir, unique):
    name = unique("node-async")
    swell.deploy(app_dir, {name: node_fn(NODE_ASYNC, memory=256, timeout=7, environment={"GREETING": "hej"})})
    r = swell.invoke(name, {"x": [1, 2, {"y": "z"}], "s": "ünïcode ✓"})
    assert r.status_code == 200, r.text
    assert function_error(r) is None, r.text
    check_headers(r)
    body = r.json()
    assert body["style"] == "async"
    assert body["echo"] == {"x": [1, 2, {"y": "z"}], "s": "ünïcode ✓"}
    assert body["requestId"] == r.headers["X-Swell-Request-Id"]
    assert body["functionName"] == name == body["envFunctionName"]
    assert body["functionVersion"] == "$LATEST"
    assert body["memory"] == "256"
    assert 0 < body["remaining"] <= 7000
    assert body["greeting"] == "hej"
    assert body["arn"].startswith(f"arn:aws:lambda:swell:default:function:{name}"), body["arn"]
    assert body["runtimeApi"].startswith("127.0.0.1:")
    # The first call of a fresh function is a cold start, the next one (same instance) is warm.
    assert r.headers["X-Swell-Cold-Start"] == "true"
    r2 = swell.invoke(name, {})
    assert r2.headers["X-Swell-Cold-Start"] == "false"
    assert float(r2.headers["X-Swell-Init-Duration-Ms"]) == 0
    assert r2.json()["requestId"] == r2.headers["X-Swell-Request-Id"] != r.headers["X-Swell-Request-Id"]


def test_node_callback_handler(swell, app_dir, unique):
    name = unique("node-cb")
    swell.deploy(app_dir, {name: node_fn(NODE_CALLBACK, memory=512)})
    r = swell.invoke(name, {"a": 40, "b": 2})
    assert r.status_code == 200 and function_error(r) is None, r.text
    check_headers(r)
    body = r.json()
    assert body["style"] == "callback"
    assert body["sum"] == 42
    assert body["requestId"] == r.headers["X-Swell-Request-Id"]
    assert body["functionName"] == name
    assert body["memory"] == "512"
    assert 0 < body["remaining"] <= 3000


def test_python_handler(swell, app_dir, unique):
    name = unique("py")
    swell.deploy(app_dir, {name: python_fn(PYTHON, memory=1024, timeout=5, environment={"GREETING": "hallo"})})
    r = swell.invoke(name, {"n": 7, "list": [True, None, 1.5]})
    assert r.status_code == 200 and function_error(r) is None, r.text
    check_headers(r)
    body = r.json()
    assert body["style"] == "python"
    assert body["echo"] == {"n": 7, "list": [True, None, 1.5]}
    assert body["requestId"] == r.headers["X-Swell-Request-Id"]
    assert body["functionName"] == name
    assert body["functionVersion"] == "$LATEST"
    assert body["memory"] == "1024"
    assert 0 < body["remaining"] <= 5000
    assert body["greeting"] == "hallo"
    assert body["arn"].startswith(f"arn:aws:lambda:swell:default:function:{name}")


def test_python_handler_via_cli(swell, app_dir, unique):
    name = unique("py-cli")
    swell.deploy(app_dir, {name: python_fn("def handler(event, context):\n    return {'twice': event['v'] * 2}\n")})
    res = swell.cli("invoke", name, "--data", '{"v": 21}').ok()
    assert json.loads(res.stdout) == {"twice": 42}


def test_provided_bash_runtime(swell, app_dir, unique):
    name = unique("bash-rt")
    swell.deploy(app_dir, {name: {
        "runtime": "provided", "memory": 192, "environment": {"GREETING": "moin"},
        "files": {"bootstrap": (BASH_BOOTSTRAP, 0o755)},
    }})
    r = swell.invoke(name, {"hello": "bash"})
    assert r.status_code == 200 and function_error(r) is None, r.text
    check_headers(r)
    body = r.json()
    assert body["runtime"] == "bash"
    assert body["event"] == {"hello": "bash"}
    assert body["requestId"] == r.headers["X-Swell-Request-Id"]
    assert body["functionName"] == name
    assert body["memory"] == "192"
    assert body["handler"] == "bootstrap"
    assert body["greeting"] == "moin"
    assert body["arn"].startswith(f"arn:aws:lambda:swell:default:function:{name}")
    assert 0 < body["remaining"] <= 3000
    # A second invocation goes to the same loop.
    r2 = swell.invoke(name, {"n": 2})
    assert r2.json()["event"] == {"n": 2}
    assert r2.json()["requestId"] == r2.headers["X-Swell-Request-Id"]
    # The attributed log line of the bootstrap is stored under the request id.
    lines = swell.wait_logs(name, r.headers["X-Swell-Request-Id"],
                            lambda ls: any("bash runtime got an event" in l["message"] for l in ls))
    assert any("bash runtime got an event" in l["message"] for l in lines), lines


def test_provided_example_custom_runtime_bootstrap(swell, app_dir, unique):
    """The repo's examples/custom-runtime bootstrap, deployed under a fresh name."""
    src = REPO_ROOT / "examples" / "custom-runtime"
    boots = sorted(src.rglob("bootstrap")) if src.exists() else []
    if not boots:
        pytest.skip("examples/custom-runtime has no bootstrap (covered by the bash bootstrap test)")
    code = boots[0].parent
    name = unique("custom-ex")
    swell.deploy(app_dir, {name: {"runtime": "provided", "code": str(code)}})
    r = swell.invoke(name, {"name": "swell"})
    assert r.status_code == 200 and function_error(r) is None, r.text
    check_headers(r)


AWSLAMBDARIC_HANDLER = r"""
import json, os

def handler(event, context):
    print("awslambdaric handler saw", json.dumps(event))
    return {
        "ric": True,
        "echo": event,
        "requestId": context.aws_request_id,
        "functionName": context.function_name,
        "memory": str(context.memory_limit_in_mb),
        "remaining": context.get_remaining_time_in_millis(),
        "arn": context.invoked_function_arn,
    }
"""


def vendor_packages(*modules: str) -> dict[str, bytes]:
    """The installed files of these modules (packages or single-file modules), keyed by path."""
    import importlib.util
    files: dict[str, bytes] = {}
    for module in modules:
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        if origin.name == "__init__.py":
            root = origin.parent
            for f in root.rglob("*"):
                if f.is_file() and "__pycache__" not in f.parts:
                    files[str(Path(root.name) / f.relative_to(root))] = f.read_bytes()
        else:
            files[origin.name] = origin.read_bytes()
    return files


def test_provided_awslambdaric(swell, app_dir, unique):
    try:
        import awslambdaric  # noqa: F401
    except ImportError:
        pytest.skip("awslambdaric is not installed for this python (pip install awslambdaric); "
                    "tests/e2e/run.sh installs it")
    # As on Lambda, the runtime client ships inside the function's code (vendored), and runs
    # on the system's python3: instances run under their own uid and cannot reach /root.
    py = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else str(Path(sys.executable).resolve())
    vendored = vendor_packages("awslambdaric", "simplejson", "snapshot_restore_py", "runtime_client")
    bootstrap = f"#!/bin/sh\ncd \"$LAMBDA_TASK_ROOT\"\nPYTHONPATH=\"$LAMBDA_TASK_ROOT\" exec {py} -m awslambdaric handler.handler\n"
    name = unique("ric")
    swell.deploy(app_dir, {name: {
        "runtime": "provided", "memory": 256, "timeout": 10,
        "files": {"bootstrap": (bootstrap, 0o755), "handler.py": AWSLAMBDARIC_HANDLER, **vendored},
    }})
    r = swell.invoke(name, {"from": "aws ric"}, timeout=60)
    assert r.status_code == 200, r.text
    assert function_error(r) is None, r.text
    body = r.json()
    assert body["ric"] is True
    assert body["echo"] == {"from": "aws ric"}
    assert body["requestId"] == r.headers["X-Swell-Request-Id"]
    assert body["functionName"] == name
    assert body["memory"] == "256"
    assert 0 < body["remaining"] <= 10000
    assert body["arn"].startswith(f"arn:aws:lambda:swell:default:function:{name}")
    # Warm second call through the same RIC loop.
    r2 = swell.invoke(name, {"again": 1})
    assert r2.status_code == 200 and function_error(r2) is None, r2.text
    assert r2.json()["echo"] == {"again": 1}
    assert r2.json()["requestId"] == r2.headers["X-Swell-Request-Id"]
    # A handler exception comes back as a function error in Lambda's shape.
    app_dir2 = app_dir.parent / "app2"
    swell.deploy(app_dir2, {name: {
        "runtime": "provided", "memory": 256, "timeout": 10,
        "files": {"bootstrap": (bootstrap, 0o755), **vendored,
                  "handler.py": "def handler(event, context):\n    raise KeyError('missing-key')\n"},
    }})
    r3 = swell.invoke(name, {})
    assert r3.status_code == 200, r3.text
    assert function_error(r3) == "Unhandled", (dict(r3.headers), r3.text)
    assert r3.json()["errorType"] == "KeyError", r3.text


ENV_DUMP = r"""
import os

def handler(event, context):
    return {"env": dict(os.environ), "cwd": os.getcwd()}
"""


def test_instance_environment(swell, app_dir, unique):
    name = unique("envdump")
    swell.deploy(app_dir, {name: python_fn(ENV_DUMP, memory=320, concurrency=3, environment={"MY_VAR": "mine"})})
    body = swell.invoke_ok(name)
    env = body["env"]
    assert "E2E_SERVER_SECRET" not in env, "the server's environment leaked into the instance"
    assert env["MY_VAR"] == "mine"
    assert env["_HANDLER"] == "app.handler"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "320"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/swell/default/{name}"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "swell-local"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["TZ"] == ":UTC"
    assert env["LANG"] == "en_US.UTF-8"
    assert env["PATH"] == "/usr/local/bin:/usr/bin:/bin"
    assert env["HOME"] == env["TMPDIR"]
    assert env["SWELL_CONCURRENCY"] == env["AWS_LAMBDA_MAX_CONCURRENCY"] == "3"
    assert env["SWELL_NAMESPACE"] == "default"
    assert env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    assert Path(env["LAMBDA_TASK_ROOT"], "app.py").exists()
    assert "LAMBDA_RUNTIME_DIR" in env

"""Function errors: timeouts, crashes, oversize payloads, handler exceptions, init errors."""

from __future__ import annotations

import json
import time

from swell_e2e import function_error, node_fn, python_fn

SLEEPER = r"""
exports.handler = async (event, context) => {
  if (event.sleep) await new Promise((r) => setTimeout(r, event.sleep));
  return { pid: process.pid, instance: context.logStreamName };
};
"""


def test_timeout_kills_and_recovers(swell, app_dir, unique):
    name = unique("timeout")
    swell.deploy(app_dir, {name: node_fn(SLEEPER, timeout=1)})
    previous = swell.invoke_ok(name, {})
    # A few rounds: the invocation right after a timeout must never land on the killed instance.
    for round_ in range(4):
        t0 = time.monotonic()
        r = swell.invoke(name, {"sleep": 5000}, timeout=30)
        elapsed = time.monotonic() - t0
        assert r.status_code == 200, r.text
        assert function_error(r) == "Timeout", (round_, dict(r.headers), r.text)
        assert 0.9 <= elapsed <= 3.0, f"timeout answered after {elapsed:.2f}s"
        body = r.json()
        assert "errorType" in body and "errorMessage" in body, body
        # The next invocation works, on a new instance.
        r2 = swell.invoke(name, {}, timeout=30)
        assert r2.status_code == 200 and function_error(r2) is None, f"round {round_}: {r2.text}"
        assert r2.headers["X-Swell-Cold-Start"] == "true"
        assert r2.json()["pid"] != previous["pid"]
        previous = r2.json()
    # The invocation record says Timeout.
    recs = swell.api("GET", f"/v1/namespaces/default/functions/{name}/invocations", params={"limit": 20}).json()
    timeouts = [i for i in recs["invocations"] if i["requestId"] == r.headers["X-Swell-Request-Id"]]
    assert timeouts and timeouts[0]["status"] == "error" and timeouts[0]["errorType"] == "Timeout", recs


CRASHER = r"""
exports.handler = async (event) => {
  if (event.crash) {
    console.log('last words before exit: marker-' + event.crash);
    process.exit(3);
  }
  return { pid: process.pid };
};
"""


def test_crash_reports_exit_status_and_last_lines(swell, app_dir, unique):
    name = unique("crash")
    swell.deploy(app_dir, {name: node_fn(CRASHER)})
    first = swell.invoke_ok(name, {})
    r = swell.invoke(name, {"crash": "zebra42"}, timeout=30)
    assert r.status_code == 200, r.text
    assert function_error(r) == "Crashed", (dict(r.headers), r.text)
    body = r.json()
    assert "exit status 3" in body["errorMessage"], body
    assert "marker-zebra42" in json.dumps(body), f"last log line missing from the crash report: {body}"
    r2 = swell.invoke(name, {}, timeout=30)
    assert r2.status_code == 200 and function_error(r2) is None, r2.text
    assert r2.json()["pid"] != first["pid"]


def test_oversize_request_is_413(swell, app_dir, unique):
    name = unique("big-in")
    swell.deploy(app_dir, {name: node_fn("exports.handler = async (e) => ({ n: JSON.stringify(e).length });")})
    big = json.dumps({"blob": "x" * (6 * 1024 * 1024 + 100)})
    r = swell.invoke(name, data=big, timeout=60)
    assert r.status_code == 413, r.text[:500]
    assert r.json()["error"]["code"] == "payload_too_large"
    # Just under the limit works.
    ok = json.dumps({"blob": "y" * (6 * 1024 * 1024 - 1000)}, separators=(",", ":"))
    r = swell.invoke(name, data=ok, timeout=60)
    assert r.status_code == 200 and function_error(r) is None, r.text[:500]
    assert r.json()["n"] == len(ok)
    # Function URLs have the same limit.
    swell.deploy(app_dir, {name: node_fn("exports.handler = async (e) => ({ ok: true });", url={"auth": "none"})})
    import requests
    r = requests.post(f"{swell.url}/fn/default/{name}", data=b"z" * (7 * 1024 * 1024),
                      headers={"Content-Type": "application/octet-stream"}, timeout=60)
    assert r.status_code == 413, r.text[:500]


def test_oversize_response_is_function_error(swell, app_dir, unique):
    name = unique("big-out")
    swell.deploy(app_dir, {name: node_fn(
        "exports.handler = async (e) => e.big ? 'x'.repeat(7 * 1024 * 1024) : 'small';")})
    r = swell.invoke(name, {"big": True}, timeout=60)
    assert r.status_code == 200, r.text[:500]
    assert function_error(r) == "ResponseTooLarge", (dict(r.headers), r.text[:500])
    assert len(r.content) < 100_000
    assert "errorMessage" in r.json()
    r2 = swell.invoke(name, {}, timeout=30)
    assert function_error(r2) is None and r2.json() == "small", r2.text


def test_node_handler_exception(swell, app_dir, unique):
    name = unique("node-throw")
    swell.deploy(app_dir, {name: node_fn(
        "exports.handler = async () => { console.log('about to throw'); throw new TypeError('boom'); };")})
    r = swell.invoke(name, {})
    assert r.status_code == 200, r.text
    assert function_error(r) == "Unhandled"
    body = r.json()
    assert body["errorType"] == "TypeError"
    assert body["errorMessage"] == "boom"
    assert isinstance(body["stackTrace"], list) and body["stackTrace"], body
    assert any("index.js" in line for line in body["stackTrace"]), body["stackTrace"]
    # The CLI exits 1 and prints the error to stderr, nothing to stdout.
    res = swell.cli("invoke", name)
    assert res.code == 1, res
    assert "TypeError" in res.stderr and "boom" in res.stderr, res
    assert res.stdout.strip() == "", res
    # Callback-style errors too.
    swell.deploy(app_dir, {name: node_fn(
        "exports.handler = (e, c, cb) => cb(new SyntaxError('cb-fail'));")})
    r = swell.invoke(name, {})
    assert function_error(r) == "Unhandled"
    assert r.json()["errorType"] == "SyntaxError" and r.json()["errorMessage"] == "cb-fail"


def test_python_handler_exception(swell, app_dir, unique):
    name = unique("py-throw")
    swell.deploy(app_dir, {name: python_fn(
        "def helper():\n    raise ValueError('bad value 7')\n\n"
        "def handler(event, context):\n    print('before raise')\n    helper()\n")})
    r = swell.invoke(name, {})
    assert r.status_code == 200, r.text
    assert function_error(r) == "Unhandled"
    body = r.json()
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "bad value 7"
    assert isinstance(body["stackTrace"], list) and body["stackTrace"], body
    assert any("helper" in line for line in body["stackTrace"]), body["stackTrace"]
    res = swell.cli("invoke", name)
    assert res.code == 1, res
    assert "ValueError" in res.stderr and "bad value 7" in res.stderr, res
    # The next invocation still works (an exception does not kill the instance).
    swell.deploy(app_dir, {name: python_fn("def handler(e, c):\n    return 'fine'\n")})
    assert swell.invoke_ok(name) == "fine"


def test_node_init_error_missing_file(swell, app_dir, unique):
    # A handler file that is not in the package fails the deploy (test_operability); a module
    # the handler's file requires can only fail at init.
    name = unique("node-init")
    swell.deploy(app_dir, {name: {"runtime": "nodejs20", "handler": "index.handler",
                                  "files": {"index.js": "require('./missing');\nexports.handler = async () => 1;"}}})
    r = swell.invoke(name, {}, timeout=30)
    assert r.status_code == 200, r.text
    assert function_error(r) == "InitError", (dict(r.headers), r.text)
    body = r.json()
    assert body["errorType"] == "Runtime.ImportModuleError", body
    assert "missing" in body["errorMessage"], body
    res = swell.cli("invoke", name)
    assert res.code == 1 and "ImportModuleError" in res.stderr, res


def test_node_init_error_missing_export(swell, app_dir, unique):
    name = unique("node-noexp")
    swell.deploy(app_dir, {name: {"runtime": "nodejs20", "handler": "index.nothere",
                                  "files": {"index.js": "exports.handler = async () => 1;"}}})
    r = swell.invoke(name, {}, timeout=30)
    assert function_error(r) == "InitError", (dict(r.headers), r.text)
    assert r.json()["errorType"] == "Runtime.HandlerNotFound", r.text
    assert "nothere" in r.json()["errorMessage"]


def test_python_init_error_syntax(swell, app_dir, unique):
    name = unique("py-syntax")
    swell.deploy(app_dir, {name: python_fn("def handler(event, context)\n    return 1\n")})
    r = swell.invoke(name, {}, timeout=30)
    assert r.status_code == 200, r.text
    assert function_error(r) == "InitError", (dict(r.headers), r.text)
    body = r.json()
    assert "SyntaxError" in body["errorType"] or body["errorType"] == "Runtime.ImportModuleError", body
    text = (body["errorMessage"] + " " + " ".join(body.get("stackTrace") or [])).lower()
    assert "app" in text and ("syntax" in text or "expected" in text), body


def test_python_init_error_missing_module(swell, app_dir, unique):
    name = unique("py-nomod")
    swell.deploy(app_dir, {name: {"runtime": "python3", "handler": "app.handler",
                                  "files": {"app.py": "import nosuchmodule\n\ndef handler(e, c):\n    return 1\n"}}})
    r = swell.invoke(name, {}, timeout=30)
    assert function_error(r) == "InitError", (dict(r.headers), r.text)
    assert r.json()["errorType"] == "Runtime.ImportModuleError", r.text
    assert "nosuchmodule" in r.json()["errorMessage"]


def test_node_init_exception_at_module_load(swell, app_dir, unique):
    name = unique("node-initthrow")
    swell.deploy(app_dir, {name: node_fn("throw new Error('init exploded');\nexports.handler = async () => 1;")})
    r = swell.invoke(name, {}, timeout=30)
    assert function_error(r) == "InitError", (dict(r.headers), r.text)
    assert "init exploded" in r.json()["errorMessage"], r.text
    # A fixed deploy recovers.
    swell.deploy(app_dir, {name: node_fn("exports.handler = async () => 'recovered';")})
    assert swell.invoke_ok(name) == "recovered"


def test_python_crash(swell, app_dir, unique):
    name = unique("py-crash")
    swell.deploy(app_dir, {name: python_fn(
        "import os, sys\n\ndef handler(event, context):\n"
        "    if event.get('crash'):\n        print('python last words', flush=True)\n        os._exit(7)\n"
        "    return os.getpid()\n")})
    pid = swell.invoke_ok(name, {})
    r = swell.invoke(name, {"crash": True}, timeout=30)
    assert function_error(r) == "Crashed", (dict(r.headers), r.text)
    assert "exit status 7" in r.json()["errorMessage"], r.text
    assert "python last words" in r.text
    assert swell.invoke_ok(name, {}) != pid

"""Idempotent deploys: unchanged functions upload nothing; changes name their fields.

The CLI is pointed at a small recording reverse proxy, so the test sees exactly which
requests a deploy sends (HEAD of the code digest, PUT only when it is missing)."""

from __future__ import annotations

import http.server
import threading

import pytest
import requests

from swell_e2e import function_info, node_fn

V1 = "exports.handler = async () => 'v1';"
V2 = "exports.handler = async () => 'v2';"


class RecordingProxy:
    def __init__(self, target: str):
        self.target = target
        self.requests: list[tuple[str, str]] = []
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                proxy.requests.append((self.command, self.path))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                r = requests.request(self.command, proxy.target + self.path, data=body, headers=headers,
                                     timeout=120, allow_redirects=False)
                self.send_response(r.status_code)
                for k, v in r.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                        self.send_header(k, v)
                payload = b"" if self.command == "HEAD" else r.content
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if payload:
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def take(self):
        out, self.requests = self.requests, []
        return out

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def proxy(server):
    p = RecordingProxy(server.url)
    yield p
    p.close()


def deploy_via(swell, proxy, app_dir):
    return swell.cli("deploy", str(app_dir), env={"SWELL_URL": proxy.url})


def code_puts(reqs):
    return [r for r in reqs if r[0] == "PUT" and "/code/" in r[1]]


def test_idempotent_deploy(swell, proxy, app_dir, unique):
    from swell_e2e import write_app
    name = unique("idem")
    write_app(app_dir, {name: node_fn(V1)})
    res = deploy_via(swell, proxy, app_dir).ok()
    assert res.stdout.strip() == f"created {name}", res
    reqs = proxy.take()
    assert len(code_puts(reqs)) == 1, reqs
    info1 = function_info(swell.api("GET", f"/v1/namespaces/default/functions/{name}").json())

    # Same manifest again: unchanged, no upload, nothing changed on the server.
    res = deploy_via(swell, proxy, app_dir).ok()
    assert res.stdout.strip() == f"unchanged {name}", res
    reqs = proxy.take()
    assert code_puts(reqs) == [], f"an unchanged deploy uploaded code: {reqs}"
    assert any(m == "HEAD" and info1["codeSha256"] in p for m, p in reqs), reqs
    info2 = function_info(swell.api("GET", f"/v1/namespaces/default/functions/{name}").json())
    assert info2["codeSha256"] == info1["codeSha256"]
    assert info2["revision"] == info1["revision"]
    assert info2["updatedAt"] == info1["updatedAt"]

    # Touching files without changing their content changes nothing either.
    (app_dir / name / "index.js").write_text(V1)
    res = deploy_via(swell, proxy, app_dir).ok()
    assert res.stdout.strip() == f"unchanged {name}", res
    assert code_puts(proxy.take()) == []

    # Memory only: updated (memory), still no upload.
    write_app(app_dir, {name: node_fn(V1, memory=256)})
    res = deploy_via(swell, proxy, app_dir).ok()
    assert res.stdout.strip() == f"updated {name} (memory)", res
    assert code_puts(proxy.take()) == []
    info3 = function_info(swell.api("GET", f"/v1/namespaces/default/functions/{name}").json())
    assert info3["memory"] == 256 and info3["codeSha256"] == info1["codeSha256"]
    assert info3["revision"] != info1["revision"]

    # Code and timeout: both named, one upload, new code runs.
    write_app(app_dir, {name: node_fn(V2, memory=256, timeout=9)})
    res = deploy_via(swell, proxy, app_dir).ok()
    line = res.stdout.strip()
    assert line.startswith(f"updated {name} ("), res
    assert set(line[line.index("(") + 1:-1].split(", ")) == {"code", "timeout"}, res
    assert len(code_puts(proxy.take())) == 1
    assert swell.invoke_ok(name) == "v2"


def test_deploy_prune(swell, app_dir, unique, tmp_path):
    ns = f"prune-{unique('ns')[-6:]}"
    a, b = unique("keep"), unique("gone")
    swell.deploy(app_dir, {a: node_fn(V1), b: node_fn(V1)}, namespace=ns)
    listed = {f["name"] for f in swell.api("GET", f"/v1/namespaces/{ns}/functions").json()["functions"]}
    assert listed == {a, b}
    other = tmp_path / "other"
    res = swell.deploy(other, {a: node_fn(V1)}, namespace=ns, extra_args=("--prune",))
    assert f"unchanged {a}" in res.stdout and f"deleted {b}" in res.stdout, res
    listed = {f["name"] for f in swell.api("GET", f"/v1/namespaces/{ns}/functions").json()["functions"]}
    assert listed == {a}
    assert swell.invoke(b, ns=ns).status_code == 404


def test_code_endpoints(swell):
    import hashlib
    sha = hashlib.sha256(b"not a tar").hexdigest()
    assert swell.api("HEAD", f"/v1/namespaces/default/code/{sha}").status_code == 404
    # A digest that does not match the bytes is refused.
    r = swell.api("PUT", f"/v1/namespaces/default/code/{'a' * 64}", data=b"x" * 1024,
                  headers={"Content-Type": "application/x-tar"})
    assert r.status_code == 400, r.text
    assert swell.api("HEAD", f"/v1/namespaces/default/code/{'a' * 64}").status_code == 404


def test_get_function_shape(swell, app_dir, unique):
    """GET …/functions/NAME answers {function: FunctionInfo, versions, aliases}."""
    name = unique("shape")
    swell.deploy(app_dir, {name: node_fn(V1, description="d")})
    body = swell.api("GET", f"/v1/namespaces/default/functions/{name}").json()
    assert sorted(body) == ["aliases", "function", "versions"], sorted(body)
    info = body["function"]
    for k in ("name", "namespace", "runtime", "handler", "codeSha256", "codeSize", "memory", "timeout",
              "concurrency", "environment", "description", "url", "createdAt", "updatedAt", "revision"):
        assert k in info, f"FunctionInfo field {k!r} missing in {sorted(info)}"
    assert info["name"] == name and info["namespace"] == "default" and info["description"] == "d"
    assert body["versions"] == [] and body["aliases"] == []
    listed = swell.api("GET", "/v1/namespaces/default/functions").json()["functions"]
    entry = next(f for f in listed if f["name"] == name)
    assert "url" in entry and entry["url"] is None, entry


def test_functions_cli(swell, app_dir, unique):
    import json
    name = unique("fcli")
    swell.deploy(app_dir, {name: node_fn(V1, memory=384)})
    out = swell.cli("functions", "list").ok().stdout
    assert name in out and "384" in out
    listed = json.loads(swell.cli("functions", "list", "--json").ok().stdout)
    assert any(f["name"] == name and f["memory"] == 384 for f in listed)
    got = json.loads(swell.cli("functions", "get", name).ok().stdout)
    assert function_info(got)["memory"] == 384
    swell.cli("functions", "delete", name).ok()
    assert swell.api("GET", f"/v1/namespaces/default/functions/{name}").status_code == 404
    res = swell.cli("functions", "get", name)
    assert res.code == 1, res

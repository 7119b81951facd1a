"""API keys, roles and namespaces."""

from __future__ import annotations

import json
import os

import requests

from swell_e2e import function_info, node_fn


def create_key(swell, role, ns="default", name="e2e"):
    r = swell.api("POST", f"/v1/namespaces/{ns}/keys", json_body={"role": role, "name": name})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["key"].startswith("swk_") and len(body["key"]) == 52, body
    assert body["role"] == role and body["namespace"] == ns
    assert body["id"].startswith("k_")
    return body


def test_missing_and_wrong_keys(swell):
    r = requests.get(f"{swell.url}/v1/namespaces/default/functions", timeout=10)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"
    for bad in ("swk_" + "1" * 48, "not-a-key", ""):
        r = requests.get(f"{swell.url}/v1/namespaces/default/functions",
                         headers={"Authorization": f"Bearer {bad}"}, timeout=10)
        assert r.status_code == 401, (bad, r.text)
    r = requests.get(f"{swell.url}/v1/whoami", headers={"Authorization": swell.key}, timeout=10)  # no "Bearer"
    assert r.status_code == 401
    # health and the API document need no key
    assert requests.get(f"{swell.url}/v1/health", timeout=10).json() == {"status": "ok"}
    doc = requests.get(f"{swell.url}/v1/openapi.yaml", timeout=10)
    assert doc.status_code == 200 and "openapi" in doc.text
    # the CLI with a wrong key exits 1 with the server's message
    res = swell.cli("functions", "list", key="swk_" + "2" * 48)
    assert res.code == 1, res
    assert "key" in res.stderr.lower(), res


def test_whoami(swell):
    r = swell.api("GET", "/v1/whoami")
    assert r.status_code == 200
    body = r.json()
    assert body["namespace"] == "default" and body["role"] == "admin" and body["keyId"].startswith("k_")


def test_invoker_role(swell, app_dir, unique):
    name = unique("inv-role")
    swell.deploy(app_dir, {name: node_fn("exports.handler = async () => 'invoked';")})
    inv = swell.with_key(create_key(swell, "invoker")["key"])
    # can invoke and read
    assert inv.invoke_ok(name) == "invoked"
    assert inv.cli("invoke", name).ok().stdout.strip() == '"invoked"'
    assert name in [f["name"] for f in inv.api("GET", "/v1/namespaces/default/functions").json()["functions"]]
    assert inv.api("GET", f"/v1/namespaces/default/functions/{name}").status_code == 200
    # cannot deploy, change, publish, read logs or manage keys
    res = inv.deploy(app_dir, {name: node_fn("exports.handler = async () => 'changed';")}, check=False)
    assert res.code == 1, res
    assert "403" in res.stderr or "forbidden" in res.stderr.lower() or "role" in res.stderr.lower(), res
    spec = swell.api("GET", f"/v1/namespaces/default/functions/{name}").json()
    fn = function_info(spec)
    r = inv.api("PUT", f"/v1/namespaces/default/functions/{name}",
                json_body={"runtime": "nodejs20", "handler": "index.handler", "codeSha256": fn["codeSha256"]})
    assert r.status_code == 403, r.text
    assert r.json()["error"]["code"] == "forbidden"
    assert inv.api("POST", "/v1/namespaces/default/deploy", json_body={"functions": {}}).status_code == 403
    assert inv.api("POST", f"/v1/namespaces/default/functions/{name}/versions", json_body={}).status_code == 403
    assert inv.api("DELETE", f"/v1/namespaces/default/functions/{name}").status_code == 403
    assert inv.api("GET", f"/v1/namespaces/default/functions/{name}/logs").status_code == 403
    assert inv.api("POST", "/v1/namespaces/default/keys", json_body={"role": "admin"}).status_code == 403
    assert inv.api("GET", "/v1/namespaces/default/keys").status_code == 403
    # the function did not change
    assert swell.invoke_ok(name) == "invoked"


def test_developer_role_cannot_manage_keys(swell):
    dev = swell.with_key(create_key(swell, "developer")["key"])
    r = dev.api("POST", "/v1/namespaces/default/keys", json_body={"role": "admin"})
    assert r.status_code == 403, r.text
    res = dev.cli("keys", "create", "--role", "admin")
    assert res.code == 1, res


def test_namespaces_are_isolated(swell, app_dir, unique, tmp_path):
    ns = f"team-b-{os.urandom(2).hex()}"
    # The default admin creates a developer key for the other namespace with the CLI.
    res = swell.cli("keys", "create", "--role", "developer", "--name", "team-b-ci", "--namespace", ns).ok()
    team_b_key = res.stdout.strip()
    assert team_b_key.startswith("swk_"), res
    team_b = swell.with_key(team_b_key)
    who = team_b.api("GET", "/v1/whoami").json()
    assert who["namespace"] == ns and who["role"] == "developer"

    secret = unique("secret")
    team_b.deploy(tmp_path / "b", {secret: node_fn("exports.handler = async () => 'team-b-secret';")})
    assert team_b.invoke_ok(secret, ns=ns) == "team-b-secret"
    assert secret in team_b.cli("functions", "list").ok().stdout

    dev_a = swell.with_key(create_key(swell, "developer", name="dev-a")["key"])
    # default's developer: the foreign namespace path is forbidden...
    for method, path, body in [
        ("GET", f"/v1/namespaces/{ns}/functions", None),
        ("GET", f"/v1/namespaces/{ns}/functions/{secret}", None),
        ("POST", f"/v1/namespaces/{ns}/functions/{secret}/invoke", {}),
        ("GET", f"/v1/namespaces/{ns}/functions/{secret}/logs", None),
        ("DELETE", f"/v1/namespaces/{ns}/functions/{secret}", None),
    ]:
        r = dev_a.api(method, path, json_body=body) if body is not None else dev_a.api(method, path)
        assert r.status_code == 403, (method, path, r.status_code, r.text)
        assert r.json()["error"]["code"] == "forbidden"
    # ...and in its own namespace the function does not exist.
    listed = dev_a.api("GET", "/v1/namespaces/default/functions").json()["functions"]
    assert secret not in [f["name"] for f in listed]
    assert dev_a.api("GET", f"/v1/namespaces/default/functions/{secret}").status_code == 404
    r = dev_a.invoke(secret)
    assert r.status_code == 404, r.text
    res = dev_a.cli("invoke", secret)
    assert res.code == 1 and "team-b-secret" not in res.stdout, res
    assert secret not in dev_a.cli("functions", "list").ok().stdout
    # the CLI with --namespace is refused too
    res = dev_a.cli("invoke", secret, "--namespace", ns)
    assert res.code == 1 and "team-b-secret" not in res.stdout, res
    # team-b cannot reach into default either
    assert team_b.api("GET", "/v1/namespaces/default/functions").status_code == 403
    # the platform admin (default namespace) may act in team-b
    assert swell.invoke_ok(secret, ns=ns) == "team-b-secret"
    # team-b's key listing is its own
    keys = swell.api("GET", f"/v1/namespaces/{ns}/keys").json()["keys"]
    assert [k["name"] for k in keys] == ["team-b-ci"]


def test_revoked_key(swell, app_dir, unique):
    name = unique("revoke")
    swell.deploy(app_dir, {name: node_fn("exports.handler = async () => 'x';")})
    k = create_key(swell, "developer", name="to-revoke")
    dev = swell.with_key(k["key"])
    assert dev.invoke_ok(name) == "x"
    listed = swell.cli("keys", "list").ok().stdout
    assert k["id"] in listed
    swell.cli("keys", "revoke", k["id"]).ok()
    r = dev.invoke(name)
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == "unauthorized"
    assert dev.api("GET", "/v1/whoami").status_code == 401
    keys = swell.api("GET", "/v1/namespaces/default/keys").json()["keys"]
    rec = next(x for x in keys if x["id"] == k["id"])
    assert rec["revoked"] is True
    assert "key" not in rec and all(not str(v).startswith("swk_") for v in rec.values())
    # revoking an unknown key is 404
    assert swell.api("DELETE", "/v1/namespaces/default/keys/k_doesnotexist").status_code == 404

"""State survives a restart of the server on the same data directory; the server also
works when started the way the README suggests (relative / default data dir)."""

from __future__ import annotations

import stat

from swell_e2e import SwellServer, function_info, node_fn, python_fn

SRC = "exports.handler = async (e, c) => ({ color: process.env.COLOR, version: c.functionVersion });"


def test_restart_keeps_state(make_server, tmp_path):
    srv = make_server(tmp_path / "data")
    admin = srv.client()
    key_before = srv.admin_key
    assert stat.S_IMODE(srv.key_file.stat().st_mode) == 0o600
    app = tmp_path / "app"
    admin.deploy(app, {"keeper": node_fn(SRC, environment={"COLOR": "blue"}, url={"auth": "none"}),
                       "pykeeper": python_fn("def handler(e, c):\n    return 'py ok'\n")})
    assert admin.cli("publish", "keeper").ok().stdout.strip() == "1"
    admin.deploy(app, {"keeper": node_fn(SRC, environment={"COLOR": "green"}, url={"auth": "none"}),
                       "pykeeper": python_fn("def handler(e, c):\n    return 'py ok'\n")})
    assert admin.cli("publish", "keeper").ok().stdout.strip() == "2"
    admin.cli("alias", "set", "keeper", "live", "1", "--weight", "2=0.5").ok()
    created = admin.api("POST", "/v1/namespaces/default/keys", json_body={"role": "developer", "name": "survivor"})
    assert created.status_code == 201
    dev_key, dev_id = created.json()["key"], created.json()["id"]
    revoked = admin.api("POST", "/v1/namespaces/default/keys", json_body={"role": "developer", "name": "dead"}).json()
    assert admin.api("DELETE", f"/v1/namespaces/default/keys/{revoked['id']}").status_code == 204
    team = admin.api("POST", "/v1/namespaces/team-r/keys", json_body={"role": "developer", "name": "r"}).json()
    srv.client(team["key"]).deploy(tmp_path / "appr", {"rfn": node_fn("exports.handler = async () => 'team-r';")})
    admin.invoke_ok("keeper")
    info_before = function_info(admin.api("GET", "/v1/namespaces/default/functions/keeper").json())

    old_port = srv.port
    assert srv.stop() is not None
    srv.start()  # same data dir, same port
    assert srv.port == old_port
    assert srv.admin_key == key_before, "admin.key changed across a restart"
    admin = srv.client()
    assert admin.api("GET", "/v1/whoami").json()["role"] == "admin"

    names = {f["name"] for f in admin.api("GET", "/v1/namespaces/default/functions").json()["functions"]}
    assert {"keeper", "pykeeper"} <= names
    info_after = function_info(admin.api("GET", "/v1/namespaces/default/functions/keeper").json())
    for k in ("codeSha256", "memory", "environment", "revision", "createdAt", "updatedAt"):
        assert info_after[k] == info_before[k], k
    versions = admin.api("GET", "/v1/namespaces/default/functions/keeper/versions").json()["versions"]
    assert sorted(v["version"] for v in versions) == ["1", "2"]
    aliases = admin.api("GET", "/v1/namespaces/default/functions/keeper/aliases").json()["aliases"]
    assert len(aliases) == 1 and aliases[0]["name"] == "live" and aliases[0]["version"] == "1"
    assert abs(float(aliases[0]["additionalVersionWeights"]["2"]) - 0.5) < 1e-9

    assert admin.invoke_ok("keeper") == {"color": "green", "version": "$LATEST"}
    assert admin.invoke_ok("keeper:1") == {"color": "blue", "version": "1"}
    assert admin.invoke_ok("keeper:2") == {"color": "green", "version": "2"}
    seen = {admin.invoke("keeper", qualifier="live").headers["X-Swell-Executed-Version"] for _ in range(30)}
    assert seen == {"1", "2"}
    assert admin.invoke_ok("pykeeper") == "py ok"
    import requests
    assert requests.get(f"{srv.url}/fn/default/keeper", timeout=30).json()["color"] == "green"

    dev = srv.client(dev_key)
    assert dev.invoke_ok("keeper") == {"color": "green", "version": "$LATEST"}
    assert srv.client(revoked["key"]).api("GET", "/v1/whoami").status_code == 401
    keys = {k["id"]: k for k in admin.api("GET", "/v1/namespaces/default/keys").json()["keys"]}
    assert dev_id in keys and keys[dev_id]["revoked"] is False
    assert keys[revoked["id"]]["revoked"] is True
    assert srv.client(team["key"]).invoke_ok("rfn", ns="team-r") == "team-r"

    # Logs and invocation records written before the restart are still there.
    recs = admin.api("GET", "/v1/namespaces/default/functions/keeper/invocations", params={"limit": 1000}).json()
    assert len(recs["invocations"]) >= 30


def test_restart_with_a_new_port_and_sigterm_exit(make_server, tmp_path):
    srv = make_server(tmp_path / "d")
    srv.client().deploy(tmp_path / "app", {"p": node_fn("exports.handler = async () => 'p';")})
    srv.client().invoke_ok("p")
    code = srv.stop()
    assert code == 0, f"swell serve exited {code} on SIGTERM; log:\n{srv.log()}"
    srv.start(port=None)
    assert srv.client().invoke_ok("p") == "p"


def test_relative_data_dir(tmp_path):
    """`swell serve --data-dir .swell` (relative) from a working directory, as a user would
    run it; the default data dir ./.swell is relative too."""
    work = tmp_path / "work"
    work.mkdir()
    srv = SwellServer(".swell", cwd=work, log_path=tmp_path / "rel.log")
    srv.start()
    try:
        c = srv.client()
        c.deploy(tmp_path / "app", {
            "reln": node_fn("exports.handler = async () => 'node rel';"),
            "relp": python_fn("def handler(e, c):\n    return 'py rel'\n"),
        })
        r = c.invoke("reln")
        assert r.headers.get("X-Swell-Function-Error") is None, r.text[:1000]
        assert r.json() == "node rel"
        assert c.invoke_ok("relp") == "py rel"
    finally:
        srv.stop()

"""The audit log (issue 15, item 3): every control-plane change is recorded with who (key id
and role), when, from which address and what; reads, invocations and refused requests are
not; a namespace key sees only its namespace; the log survives a restart."""

from __future__ import annotations

import json
import time

from swell_e2e import node_fn

SRC = "exports.handler = async () => 'ok';"


def entries(client, **params):
    r = client.api("GET", "/v1/audit", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_control_plane_changes_are_audited(make_server, tmp_path):
    srv = make_server(tmp_path / "data")
    admin = srv.client()
    admin_id = admin.api("GET", "/v1/whoami").json()["keyId"]
    start = time.time()
    admin.deploy(tmp_path / "app", {"aud": node_fn(SRC, memory=128)})
    # A deploy that changes memory records the changed field (and never an environment value).
    put = admin.api("PUT", "/v1/namespaces/default/functions/aud",
                    json_body={"runtime": "nodejs20", "handler": "index.handler",
                               "codeSha256": admin.api("GET", "/v1/namespaces/default/functions/aud").json()["function"]["codeSha256"],
                               "memory": 256, "environment": {"SECRET": "hunter2"}})
    assert put.status_code == 200, put.text
    assert admin.api("POST", "/v1/namespaces/default/functions/aud/versions", json_body={"description": "v1"}).status_code in (200, 201)
    assert admin.api("PUT", "/v1/namespaces/default/functions/aud/aliases/live", json_body={"version": "1"}).status_code == 200
    key = admin.api("POST", "/v1/namespaces/default/keys", json_body={"role": "developer", "name": "ci"}).json()
    assert admin.api("DELETE", f"/v1/namespaces/default/keys/{key['id']}").status_code == 204
    assert admin.api("PUT", "/v1/namespaces/default/async-limits", json_body={"ratePerSecond": 5}).status_code == 200
    assert admin.api("PUT", "/v1/prices", json_body={"perGBSecond": 0.5}).status_code == 200
    assert admin.api("DELETE", "/v1/namespaces/default/functions/aud/aliases/live").status_code == 204
    # Not audited: reads, invocations, and requests that were refused.
    admin.api("GET", "/v1/namespaces/default/functions")
    admin.invoke_ok("aud")
    assert admin.api("PUT", "/v1/prices", json_body={"perGBSecond": -1}).status_code == 400
    assert admin.api("DELETE", "/v1/namespaces/default/functions/nope").status_code == 404
    assert admin.api("DELETE", "/v1/namespaces/default/functions/aud").status_code == 204

    log = entries(admin)["entries"]
    actions = [e["action"] for e in reversed(log)]
    assert actions == ["code.upload", "namespace.deploy", "function.deploy", "function.publish", "alias.put", "key.create",
                       "key.revoke", "limits.put", "prices.put", "alias.delete", "function.delete"], actions
    for e in log:
        assert e["keyId"] == admin_id and e["role"] == "admin" and e["address"] == "127.0.0.1", e
        assert e["namespace"] == "default"
        assert start - 5 <= _epoch(e["time"]) <= time.time() + 5
    by_action = {e["action"]: e for e in log}
    deploy = by_action["function.deploy"]
    assert deploy["target"] == "aud" and "memory" in deploy["details"]["fields"] and deploy["details"]["change"] == "updated"
    assert "hunter2" not in json.dumps(log)
    assert by_action["namespace.deploy"]["details"]["changes"][0]["function"] == "aud"
    assert by_action["function.publish"]["details"]["version"] == 1
    assert by_action["alias.put"]["target"] == "live" and by_action["alias.put"]["details"] == {"version": "1"}
    assert by_action["key.create"]["details"]["keyId"] == key["id"] and by_action["key.create"]["details"]["role"] == "developer"
    assert key["key"] not in json.dumps(log), "a key's secret is never recorded"
    assert by_action["key.revoke"]["target"] == key["id"]
    assert by_action["limits.put"]["details"] == {"ratePerSecond": 5}
    assert by_action["prices.put"]["details"] == {"perGBSecond": 0.5}

    # Paging, newest first, with a cursor.
    first = entries(admin, limit=4)
    assert [e["action"] for e in first["entries"]] == actions[::-1][:4] and first["next"]
    second = entries(admin, limit=100, before=first["next"])
    assert [e["action"] for e in second["entries"]] == actions[::-1][4:] and second["next"] is None
    assert admin.api("GET", "/v1/audit", params={"limit": 0}).status_code == 400
    assert admin.api("GET", "/v1/audit", params={"before": "x"}).status_code == 400

    # A namespace key sees its namespace only.
    team = admin.api("POST", "/v1/namespaces/team-a/keys", json_body={"role": "developer"}).json()
    team_client = srv.client(team["key"])
    team_client.deploy(tmp_path / "team", {"tfn": node_fn(SRC)}, namespace="team-a")
    seen = entries(team_client)["entries"]
    assert {e["namespace"] for e in seen} == {"team-a"}
    own = [e for e in seen if e["keyId"] == team["id"]]
    assert [e["action"] for e in reversed(own)] == ["code.upload", "namespace.deploy"]
    assert {e["role"] for e in own} == {"developer"}
    assert team_client.api("GET", "/v1/audit", params={"namespace": "default"}).status_code == 403
    assert team_client.api("GET", "/v1/audit", params={"namespace": "*"}).status_code == 403
    everything = entries(admin, namespace="*", limit=1000)["entries"]
    assert {"default", "team-a"} <= {e["namespace"] for e in everything}
    # The platform admin's key creation in team-a is in team-a's log.
    assert any(e["action"] == "key.create" and e["keyId"] == admin_id for e in entries(admin, namespace="team-a")["entries"])

    # The CLI, and a restart keeps the log.
    table = admin.cli("audit", "--limit", "3").ok().stdout
    assert "function.delete" in table and "more: swell audit --before" in table
    srv.restart()
    admin = srv.client()
    assert [e["action"] for e in reversed(entries(admin)["entries"])] == actions
    as_json = json.loads(admin.cli("audit", "--json").ok().stdout)
    assert as_json["entries"][0]["action"] == "function.delete"


def test_trigger_pause_and_resume_are_audited(make_server, tmp_path):
    srv = make_server(tmp_path / "data")
    admin = srv.client()
    admin.deploy(tmp_path / "app", {"yearly": node_fn(SRC, triggers=[{"type": "timer", "cron": "0 0 0 1 1 *"}])})
    base = "/v1/namespaces/default/functions/yearly/triggers/timer"
    assert admin.api("POST", base + "/pause").status_code == 200
    assert admin.api("POST", base + "/resume").status_code == 200
    assert admin.api("POST", "/v1/namespaces/default/functions/yearly/triggers/nope/pause").status_code == 404
    log = entries(admin, limit=2)["entries"]
    assert [(e["action"], e["target"]) for e in log] == [("trigger.resume", "timer"), ("trigger.pause", "timer")]


def _epoch(text: str) -> float:
    from datetime import datetime
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()

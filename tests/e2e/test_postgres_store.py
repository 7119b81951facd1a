"""`swell serve --store postgres://…`: every store in PostgreSQL, nothing in SQLite files;
state survives a restart; a bad or unreachable store is one clear start-up error."""

from __future__ import annotations

import json
import subprocess
import time

from postgres_e2e import postgres  # noqa: F401  (fixture)
from swell_e2e import SWELL_BIN, free_port, node_fn

ADMIN_KEY = "swk_e2e_postgres_admin_key_0001"

ECHO = """
exports.handler = async (e) => { console.log('ran', JSON.stringify(e)); return { echo: e }; };
"""


def wait_task(swell, task_id, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        t = swell.api("GET", f"/v1/namespaces/default/tasks/{task_id}").json()["task"]
        if t["state"] == "succeeded" or time.monotonic() > deadline:
            return t
        time.sleep(0.1)


def test_serve_on_postgres_keeps_every_store_in_the_database(postgres, make_server, app_dir, unique, tmp_path):
    url = postgres.fresh_database()
    data = tmp_path / "node"
    server = make_server(data, extra_args=["--store", url], env={"SWELL_ADMIN_KEY": ADMIN_KEY})
    assert "using the PostgreSQL store" in server.log()
    swell = server.client()
    name = unique("pg")
    swell.deploy(app_dir, {name: node_fn(ECHO)})
    assert swell.invoke_ok(name, {"a": 1}) == {"echo": {"a": 1}}
    r = swell.api("POST", f"/v1/namespaces/default/functions/{name}/invoke", params={"mode": "async"}, data=json.dumps({"b": 2}),
                  headers={"Content-Type": "application/json"})
    assert r.status_code == 202, r.text
    task_id = r.json()["taskId"]
    t = wait_task(swell, task_id)
    assert t["state"] == "succeeded" and t["result"] == {"echo": {"b": 2}}, t
    # The rows are in PostgreSQL, and no SQLite database was created.
    db = url.rsplit("/", 1)[1]
    assert postgres.psql(f"SELECT count(*) FROM functions WHERE name = '{name}'", db) == "1"
    assert postgres.psql(f"SELECT state FROM tasks WHERE id = '{task_id}'", db) == "succeeded"
    assert postgres.psql("SELECT count(*) FROM packages", db) == "1"
    for f in ["swell.db", "tasks.db", "triggers.db", "logs.db"]:
        assert not (data / f).exists(), f
    # Logs and invocation records land there too (written behind the request).
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and postgres.psql("SELECT count(*) FROM logs WHERE message LIKE 'ran%'", db) == "0":
        time.sleep(0.2)
    assert int(postgres.psql("SELECT count(*) FROM logs WHERE message LIKE 'ran%'", db)) >= 1
    assert any("ran" in line["message"] for line in swell.logs(name)["lines"])

    # Restarted, with a fresh data directory even: the state is the database's.
    server.stop()
    other = make_server(tmp_path / "elsewhere", extra_args=["--store", url], env={"SWELL_ADMIN_KEY": ADMIN_KEY})
    swell2 = other.client()
    assert swell2.invoke_ok(name, {"c": 3}) == {"echo": {"c": 3}}
    t = swell2.api("GET", f"/v1/namespaces/default/tasks/{task_id}").json()["task"]
    assert t["state"] == "succeeded"


def run_serve(tmp_path, *args, env=None):
    import os
    e = {k: v for k, v in os.environ.items() if k != "SWELL_STORE"}
    e.update(env or {})
    return subprocess.run([SWELL_BIN, "serve", "--data-dir", str(tmp_path / "d"), "--port", str(free_port()), *args],
                          capture_output=True, text=True, timeout=60, env=e)


def test_an_unreachable_store_is_a_clear_startup_error_with_the_password_masked(tmp_path):
    port = free_port()  # nothing listens there
    out = run_serve(tmp_path, "--store", f"postgres://swell:hunter2@127.0.0.1:{port}/nowhere")
    assert out.returncode == 1
    assert f"cannot connect to the store postgres://swell:***@127.0.0.1:{port}/nowhere" in out.stderr, out.stderr
    assert "hunter2" not in out.stderr + out.stdout


def test_a_missing_database_and_a_bad_url_are_named(postgres, tmp_path):
    out = run_serve(tmp_path, "--store", f"postgres://{postgres.user}@{postgres.host}:{postgres.port}/no_such_db")
    assert out.returncode == 1 and "no_such_db" in out.stderr and "does not exist" in out.stderr, out.stderr
    out = run_serve(tmp_path, env={"SWELL_STORE": "mysql://x@y/z"})
    assert out.returncode != 0 and "SWELL_STORE" in out.stderr, out.stderr
    out = run_serve(tmp_path, "--store", "postgres://127.0.0.1/db")
    assert out.returncode != 0 and "--store" in out.stderr and "no user" in out.stderr, out.stderr

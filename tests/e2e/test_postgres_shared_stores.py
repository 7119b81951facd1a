"""Scale-out, the stores added after the first PostgreSQL ones: two `swell serve` nodes on one
PostgreSQL share workflows (definitions, executions, history), layers, usage, audit and AWS
keys; a node reaches PostgreSQL over TLS (`sslmode=verify-full&sslrootcert=CA`), and a wrong
CA is a clear start-up error."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from postgres_e2e import TOOLS, Postgres, postgres  # noqa: F401  (fixture)
from swell_e2e import SWELL_BIN, free_port, node_fn, wait_until

ADMIN_KEY = "swk_e2e_pg_shared_admin_key_01"
DOUBLE = "exports.handler = async (e) => ({ value: (e.value || 0) * 2 });"



@pytest.fixture
def two_nodes(postgres, make_server, tmp_path):
    url = postgres.fresh_database()
    nodes = [make_server(tmp_path / f"node{i}", extra_args=["--store", url], env={"SWELL_ADMIN_KEY": ADMIN_KEY}) for i in range(2)]
    nodes[0].db = url.rsplit("/", 1)[1]
    return nodes


def test_workflows_usage_and_audit_are_shared_by_the_nodes(two_nodes, postgres, tmp_path):
    a_node, b_node = two_nodes
    a, b = a_node.client(), b_node.client()
    a.deploy(tmp_path / "app", {"double": node_fn(DOUBLE)})
    definition = {"StartAt": "D", "States": {
        "D": {"Type": "Task", "Resource": "swell:function:double", "Next": "W"},
        "W": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
        "Done": {"Type": "Succeed"}}}
    r = a.api("PUT", "/v1/namespaces/default/workflows/shared", json_body={"definition": definition})
    assert r.status_code in (200, 201), r.text
    # Deployed on A, known to B at once (one database), started on B.
    assert b.api("GET", "/v1/namespaces/default/workflows/shared").status_code == 200
    r = b.api("POST", "/v1/namespaces/default/workflows/shared/executions", json_body={"name": "e1", "input": {"value": 21}})
    assert r.status_code in (200, 201, 202), r.text

    def ended():
        e = a.api("GET", "/v1/namespaces/default/workflows/shared/executions/e1").json()["execution"]
        return e if e["status"] != "RUNNING" else None
    e = wait_until(ended, 60)
    assert e and e["status"] == "SUCCEEDED" and e["output"] == {"value": 42}, e
    # Its history, written by B's journal, read on A: complete and ordered.
    events = a.api("GET", "/v1/namespaces/default/workflows/shared/executions/e1/history", params={"limit": 1000}).json()["events"]
    assert [x["id"] for x in events] == list(range(1, len(events) + 1))
    assert events[0]["type"] == "ExecutionStarted" and events[-1]["type"] == "ExecutionSucceeded"
    assert postgres.psql("SELECT count(*) FROM executions WHERE name = 'e1'", a_node.db) == "1"
    # B created it, so B owns (ran) it.
    owner = postgres.psql("SELECT owner FROM executions WHERE name = 'e1'", a_node.db)
    nodes = a.api("GET", "/v1/nodes").json()
    b_id = b.api("GET", "/v1/nodes").json()["self"]
    assert owner == b_id and b_id != nodes["self"], (owner, nodes)

    # Usage of both nodes, read from either: 3 invocations on A, 2 on B (plus the workflow's one on B).
    for _ in range(3):
        a.invoke_ok("double", {"value": 1})
    for _ in range(2):
        b.invoke_ok("double", {"value": 1})

    def invocations(client):
        rows = client.api("GET", "/v1/usage", params={"by": "function"}).json()["rows"]
        return next((row["invocations"] for row in rows if row["function"] == "double"), 0)
    assert wait_until(lambda: invocations(a) == 6, 15), invocations(a)
    assert wait_until(lambda: invocations(b) == 6, 15), invocations(b)

    # Audit: changes made on either node, read from either.
    r = b.api("POST", "/v1/namespaces/default/keys", json_body={"role": "developer", "name": "made-on-b"})
    assert r.status_code in (200, 201), r.text
    for client in (a, b):
        actions = [x["action"] for x in client.api("GET", "/v1/audit", params={"limit": 100}).json()["entries"]]
        assert {"namespace.deploy", "workflow.deploy", "key.create"} <= set(actions), actions
    assert not (Path(a_node.data_dir) / "workflows.db").exists() and not (Path(a_node.data_dir) / "audit.db").exists()
    assert not (Path(b_node.data_dir) / "usage.db").exists()


def test_a_killed_nodes_executions_are_taken_over_and_finish_elsewhere(two_nodes, postgres, tmp_path):
    import signal
    a_node, b_node = two_nodes
    a, b = a_node.client(), b_node.client()
    a.deploy(tmp_path / "app", {"double": node_fn(DOUBLE)})
    definition = {"StartAt": "Before", "States": {
        "Before": {"Type": "Task", "Resource": "swell:function:double", "Next": "Sleep"},
        "Sleep": {"Type": "Wait", "Seconds": 3, "Next": "After"},
        "After": {"Type": "Task", "Resource": "swell:function:double", "End": True}}}
    assert a.api("PUT", "/v1/namespaces/default/workflows/long", json_body={"definition": definition}).status_code in (200, 201)
    for i in range(5):
        r = a.api("POST", "/v1/namespaces/default/workflows/long/executions", json_body={"name": f"k{i}", "input": {"value": i}})
        assert r.status_code in (200, 201, 202), r.text
    a_id = a.api("GET", "/v1/nodes").json()["self"]
    # All five are A's, waiting in their Wait state (the first Task journaled).
    assert wait_until(lambda: postgres.psql(
        f"SELECT count(*) FROM executions e WHERE owner = '{a_id}' AND EXISTS (SELECT 1 FROM execution_history h WHERE h.execution_id = e.id AND h.id >= 6)",
        a_node.db) == "5", 20)
    os.kill(a_node.pid, signal.SIGKILL)
    killed = time.monotonic()

    def done():
        rows = [b.api("GET", f"/v1/namespaces/default/workflows/long/executions/k{i}").json()["execution"] for i in range(5)]
        return rows if all(e["status"] != "RUNNING" for e in rows) else None
    rows = wait_until(done, 30)
    assert rows, "the dead node's executions were not finished elsewhere"
    took = time.monotonic() - killed
    print(f"workflow takeover: all five finished {took:.1f} s after kill -9")
    for i, e in enumerate(rows):
        assert e["status"] == "SUCCEEDED" and e["output"] == {"value": i * 4}, e
        events = b.api("GET", f"/v1/namespaces/default/workflows/long/executions/k{i}/history", params={"limit": 1000}).json()["events"]
        assert [x["id"] for x in events] == list(range(1, len(events) + 1))
        assert events[-1]["type"] == "ExecutionSucceeded" and sum(x["type"] == "ExecutionSucceeded" for x in events) == 1
    b_id = b.api("GET", "/v1/nodes").json()["self"]
    assert postgres.psql("SELECT DISTINCT owner FROM executions WHERE workflow = 'long'", a_node.db) == b_id
    # The lease is 5 s; taken over within about a second of it lapsing (plus the Wait's rest and a Task).
    assert took < 12, took
    assert "workflow executions taken over" in b_node.log()


def test_the_same_new_idempotency_key_on_two_nodes_at_once_is_one_task(two_nodes, postgres, tmp_path):
    import json
    from concurrent.futures import ThreadPoolExecutor
    a_node, b_node = two_nodes
    a, b = a_node.client(), b_node.client()
    a.deploy(tmp_path / "app", {"double": node_fn(DOUBLE)})
    assert wait_until(lambda: b.api("GET", "/v1/namespaces/default/functions/double").status_code == 200, 5)

    def enqueue(client, key):
        r = client.api("POST", "/v1/namespaces/default/functions/double/invoke", params={"mode": "async"},
                       data=json.dumps({"value": 1}), headers={"Content-Type": "application/json", "Idempotency-Key": key})
        assert r.status_code in (200, 202), r.text
        return r.json()

    rounds = 60
    with ThreadPoolExecutor(max_workers=8) as pool:
        pairs = [(pool.submit(enqueue, a, f"race-{i}"), pool.submit(enqueue, b, f"race-{i}")) for i in range(rounds)]
        answers = [(x.result(), y.result()) for x, y in pairs]
    for i, (x, y) in enumerate(answers):
        assert x["taskId"] == y["taskId"], (i, x, y)
        assert sorted([x["duplicate"], y["duplicate"]]) == [False, True], (i, x, y)
    assert postgres.psql("SELECT count(*) FROM tasks WHERE idempotency_key LIKE 'race-%'", a_node.db) == str(rounds)
    assert postgres.psql(
        "SELECT count(*) FROM (SELECT idempotency_key FROM tasks GROUP BY idempotency_key HAVING count(*) > 1) AS d", a_node.db) == "0"


@pytest.fixture(scope="module")
def tls_postgres():
    out = subprocess.run([str(TOOLS / "start_postgres.sh"), "--ssl"], capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        pytest.fail(f"cannot start PostgreSQL with TLS: {out.stderr}")
    env = dict(line.removeprefix("export ").split("=", 1) for line in out.stdout.splitlines() if line.startswith("export "))
    try:
        pg = Postgres(env["SWELL_TEST_POSTGRES_URL"], env.get("SWELL_TEST_POSTGRES_BIN"))
        pg.ca = env["SWELL_TEST_POSTGRES_CA"]
        yield pg
    finally:
        subprocess.run([str(TOOLS / "stop_postgres.sh")], env={**os.environ, **env}, timeout=60)


def test_a_node_connects_with_verify_full_and_a_wrong_ca_is_a_clear_startup_error(tls_postgres, make_server, tmp_path):
    url = tls_postgres.fresh_database()
    db = url.rsplit("/", 1)[1]
    node = make_server(tmp_path / "tls", extra_args=["--store", f"{url}?sslmode=verify-full&sslrootcert={tls_postgres.ca}"],
                       env={"SWELL_ADMIN_KEY": ADMIN_KEY})
    client = node.client()
    client.deploy(tmp_path / "app", {"double": node_fn(DOUBLE)})
    assert client.invoke_ok("double", {"value": 4}) == {"value": 8}
    # Every connection of the node is encrypted.
    ssl = tls_postgres.psql(
        f"SELECT string_agg(DISTINCT s.ssl::text, ',') FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = '{db}'")
    assert ssl == "true", ssl

    # Another CA: the node refuses the server and says why, naming the store.
    other = tmp_path / "other-ca"
    other.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=not the CA",
                    "-keyout", str(other / "ca.key"), "-out", str(other / "ca.crt")], check=True, capture_output=True, timeout=60)
    env = {k: v for k, v in os.environ.items() if k != "SWELL_STORE"}
    out = subprocess.run([SWELL_BIN, "serve", "--data-dir", str(tmp_path / "wrong"), "--port", str(free_port()),
                          "--store", f"{url}?sslmode=verify-full&sslrootcert={other / 'ca.crt'}"],
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"cannot connect to the store {url}?sslmode=verify-full" in out.stderr, out.stderr
    assert "TLS handshake failed" in out.stderr, out.stderr
    # A CA file that is not there is named too.
    out = subprocess.run([SWELL_BIN, "serve", "--data-dir", str(tmp_path / "missing"), "--port", str(free_port()),
                          "--store", f"{url}?sslmode=verify-full&sslrootcert={tmp_path / 'nope.crt'}"],
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 1 and "cannot read sslrootcert" in out.stderr, out.stderr


def test_aws_keys_and_layers_are_shared_and_a_revocation_reaches_every_node(two_nodes, tmp_path):
    boto3 = pytest.importorskip("boto3")
    import json

    import botocore.config
    from test_aws_lambda import signed, zip_bytes
    a_node, b_node = two_nodes
    a, b = a_node.client(), b_node.client()
    # An access key issued on A…
    res = a.cli("keys", "create", "--role", "developer", "--name", "aws-shared", "--aws").ok()
    fields = dict(line.split(" = ", 1) for line in res.stdout.splitlines() if " = " in line)
    key_id = res.stderr.split("key ", 1)[1].split(" ", 1)[0]
    creds = (fields["aws_access_key_id"], fields["aws_secret_access_key"])

    def lam(client):
        return boto3.client("lambda", endpoint_url=client.url, region_name="us-east-1", aws_access_key_id=creds[0],
                            aws_secret_access_key=creds[1], config=botocore.config.Config(retries={"max_attempts": 0}, read_timeout=60))
    # …signs requests to B: a layer published through B…
    layer = lam(b).publish_layer_version(LayerName="shared-dep", Content={"ZipFile": zip_bytes({
        "nodejs/node_modules/shared-dep/index.js": "module.exports = () => 'from the layer';\n"})})
    assert layer["Version"] == 1
    assert lam(a).publish_layer_version(LayerName="shared-dep", Content={"ZipFile": zip_bytes({"x.txt": "2"})})["Version"] == 2
    # …is used by a function created through A (which fetches the layer's package B stored), run on both.
    lam(a).create_function(FunctionName="layered", Runtime="nodejs20.x", Role="r", Handler="index.handler", Layers=[layer["LayerVersionArn"]],
                           Code={"ZipFile": zip_bytes({"index.js": "exports.handler = async () => require('shared-dep')();\n"})})
    assert json.loads(lam(a).invoke(FunctionName="layered", Payload=b"{}")["Payload"].read()) == "from the layer"
    assert wait_until(lambda: b.api("GET", "/v1/namespaces/default/functions/layered").status_code == 200, 5)
    assert json.loads(lam(b).invoke(FunctionName="layered", Payload=b"{}")["Payload"].read()) == "from the layer"
    assert [v["Version"] for v in lam(b).list_layer_versions(LayerName="shared-dep")["LayerVersions"]] == [2, 1]
    # Revoking the Swell key on B disables the access key on A within a second.
    assert signed(a, creds, "GET", "/2015-03-31/functions/").status_code == 200
    b.cli("keys", "revoke", key_id).ok()
    revoked = time.monotonic()
    assert wait_until(lambda: signed(a, creds, "GET", "/2015-03-31/functions/").status_code == 403, 2, step=0.05)
    assert time.monotonic() - revoked < 1.5

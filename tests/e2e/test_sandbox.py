"""The sandbox: cgroup memory limit (out-of-memory for the hog's own invocation only), cgroup
placement, an unprivileged uid per function when Swell runs as root, private temp dirs."""

from __future__ import annotations

import os
import re

import pytest

from swell_e2e import function_error, node_fn, python_fn

HOG = """
exports.handler = async (e) => {
  if (e.hog) { const keep = []; for (;;) keep.push(Buffer.alloc(8 * 1024 * 1024, 1)); }
  return { pid: process.pid };
};
"""

WHOAMI_PY = """
import os
def handler(event, context):
    result = {"uid": os.getuid(), "pid": os.getpid(), "tmp": os.environ["TMPDIR"]}
    if event.get("write"):
        with open(os.path.join(os.environ["TMPDIR"], "secret.txt"), "w") as f:
            f.write("mine")
    if event.get("read"):
        try:
            with open(event["read"]) as f:
                result["read"] = f.read()
        except OSError as e:
            result["error"] = type(e).__name__
    return result
"""


def sandbox_mode(server) -> str:
    m = re.search(r"sandbox: (cgroup v1|cgroup v2|rlimits only)", server.full_log())
    assert m, "the server must log its sandbox mode at start-up"
    return m.group(1)


def test_server_logs_its_sandbox_mode(server):
    assert sandbox_mode(server) in ("cgroup v1", "cgroup v2", "rlimits only")


def test_memory_hog_gets_out_of_memory_and_only_its_own_invocation_fails(server, swell, app_dir, unique):
    if sandbox_mode(server) == "rlimits only":
        pytest.skip("no writable cgroup hierarchy on this machine")
    hog, bystander = unique("hog"), unique("calm")
    swell.deploy(app_dir, {hog: node_fn(HOG, memory=128, timeout=20), bystander: node_fn(HOG, memory=128)})
    calm_pid = swell.invoke_ok(bystander, {})["pid"]
    r = swell.invoke(hog, {"hog": True}, timeout=60)
    assert r.status_code == 200
    assert function_error(r) == "OutOfMemory", (dict(r.headers), r.text)
    assert r.json()["errorType"] == "Runtime.OutOfMemory"
    assert "128 MB" in r.json()["errorMessage"]
    # The function recovers on a fresh instance; the other function's instance was untouched.
    assert swell.invoke_ok(hog, {})["pid"] > 0
    assert swell.invoke_ok(bystander, {})["pid"] == calm_pid


def test_instances_run_in_their_own_cgroups(server, swell, app_dir, unique):
    if sandbox_mode(server) == "rlimits only":
        pytest.skip("no writable cgroup hierarchy on this machine")
    name = unique("caged")
    swell.deploy(app_dir, {name: node_fn(HOG, memory=256)})
    pid = swell.invoke_ok(name, {})["pid"]
    groups = open(f"/proc/{pid}/cgroup").read()
    assert f"swell-{server.pid}" in groups, groups
    memory_line = next(line for line in groups.splitlines() if ":memory:" in line or line.startswith("0::"))
    path = memory_line.split(":", 2)[2]
    limit_file = f"/sys/fs/cgroup/memory{path}/memory.limit_in_bytes"
    if os.path.exists(limit_file):
        assert int(open(limit_file).read()) == 256 * 1024 * 1024


@pytest.mark.skipif(os.geteuid() != 0, reason="functions get their own uid only when Swell runs as root")
def test_functions_run_under_unprivileged_uids_with_private_temp_dirs(swell, app_dir, unique):
    a, b = unique("uid-a"), unique("uid-b")
    swell.deploy(app_dir, {a: python_fn(WHOAMI_PY), b: python_fn(WHOAMI_PY)})
    ra = swell.invoke_ok(a, {"write": True})
    rb = swell.invoke_ok(b, {})
    assert ra["uid"] != 0 and rb["uid"] != 0
    assert ra["uid"] != rb["uid"]
    # b cannot read a's temp directory.
    stolen = swell.invoke_ok(b, {"read": os.path.join(ra["tmp"], "secret.txt")})
    assert stolen.get("error") == "PermissionError", stolen
    # ...and a can read its own.
    assert swell.invoke_ok(a, {"read": os.path.join(ra["tmp"], "secret.txt")})["read"] == "mine"

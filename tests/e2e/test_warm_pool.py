"""Cold starts specialize pre-booted runtime processes instead of spawning new ones."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from swell_e2e import function_error, node_fn, python_fn


def prebooted(server, runtime_file: str) -> set[int]:
    """PIDs of the server's children running the bootstrap and still waiting for their function."""
    pids = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid != server.pid:
                continue
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            environ = (entry / "environ").read_bytes().split(b"\0")
            cwd = str((entry / "cwd").readlink())
        except (OSError, ValueError, IndexError):
            continue
        # /proc's environ is the one it started with: a specialized process has moved to its code.
        if any(arg.endswith(runtime_file.encode()) for arg in cmdline) and b"SWELL_PREWARM=1" in environ and "/code/" not in cwd:
            pids.add(int(entry.name))
    return pids


def wait_for_prebooted(server, runtime_file: str) -> set[int]:
    deadline = time.time() + 10
    while time.time() < deadline:
        pids = prebooted(server, runtime_file)
        if pids:
            return pids
        time.sleep(0.05)
    raise AssertionError(f"no pre-booted {runtime_file} process under the server")


PID_NODE = "exports.handler = async (e, ctx) => ({ pid: process.pid, cwd: process.cwd(), env: process.env.GREETING, prewarm: process.env.SWELL_PREWARM || null });"
PID_PY = (
    "import os\n"
    "def handler(event, context):\n"
    "    return {'pid': os.getpid(), 'cwd': os.getcwd(), 'env': os.environ.get('GREETING'), 'prewarm': os.environ.get('SWELL_PREWARM')}\n"
)


@pytest.mark.parametrize("runtime", ["nodejs20", "python3"])
def test_cold_start_takes_a_prebooted_process(server, swell, app_dir, unique, runtime):
    name = unique("warm")
    make, source, bootstrap = {
        "nodejs20": (node_fn, PID_NODE, "nodejs/bootstrap.js"),
        "python3": (python_fn, PID_PY, "python/bootstrap.py"),
    }[runtime]
    swell.deploy(app_dir, {name: make(source, environment={"GREETING": "hej"})})
    waiting = wait_for_prebooted(server, bootstrap)
    r = swell.invoke(name, {})
    assert function_error(r) is None and r.headers["X-Swell-Cold-Start"] == "true", r.text
    body = r.json()
    assert body["pid"] in waiting, (body, waiting)
    # It became the function: its environment and working directory, none of the pool's.
    assert body["env"] == "hej" and body["prewarm"] is None
    assert "/code/" in body["cwd"]
    # The pool refills behind it.
    assert wait_for_prebooted(server, bootstrap) - {body["pid"]}


def test_init_error_in_a_specialized_process_is_reported(swell, app_dir, unique):
    name = unique("warm-bad")
    swell.deploy(app_dir, {name: node_fn("throw new Error('broken at import')")})
    r = swell.invoke(name, {})
    assert function_error(r) == "InitError", (dict(r.headers), r.text)
    assert "broken at import" in r.text


def cgroup_paths(pid: int, task: int | None = None) -> dict[str, str]:
    """The process's (or one of its threads') cgroup v1 paths by controller (memory, cpu, pids)."""
    paths = {}
    file = f"/proc/{pid}/cgroup" if task is None else f"/proc/{pid}/task/{task}/cgroup"
    for line in Path(file).read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for c in controllers.split(","):
            paths[c] = path
    return paths


CHILD_NODE = (
    "const { spawn } = require('child_process');\n"
    "exports.handler = async () => ({ pid: process.pid, child: spawn('sleep', ['60'], { detached: true, stdio: 'ignore' }).pid });"
)


def test_a_prebooted_process_keeps_its_memory_and_pids_groups_and_joins_its_functions_cpu_group(server, swell, app_dir, unique):
    """Cgroup v1: the pre-booted process was born in memory and pids groups of its own and boots
    in Swell's own cpu group (booting under Swell's group took the node's instances' CPU: with
    three nodes on a loaded machine they starved past their timeouts). The cold start writes the
    function's memory limit into its memory group (no move on the request's path) and moves it
    into the function's cpu group after the hand-over. Everything, a child it forked included,
    goes when the instance goes."""
    if "sandbox: cgroup v1" not in server.full_log():
        pytest.skip("pre-boot cgroups are a cgroup v1 path")
    name = unique("warm-cg")
    swell.deploy(app_dir, {name: node_fn(CHILD_NODE, memory=192)})
    waiting = wait_for_prebooted(server, "nodejs/bootstrap.js")
    for pid in waiting:
        booting = cgroup_paths(pid)
        assert f"/swell-{server.pid}/prebooted/p" in booting["memory"], booting
        assert f"/swell-{server.pid}/prebooted/p" in booting["pids"], booting
        assert booting["cpu"] == cgroup_paths(server.pid)["cpu"], (booting, cgroup_paths(server.pid))
        # The child joined through v1's `tasks` file (its one thread, before exec): every thread
        # Node.js started after the exec is in the same groups.
        threads = [int(t.name) for t in Path(f"/proc/{pid}/task").iterdir()]
        assert len(threads) > 1, threads
        for tid in threads:
            assert cgroup_paths(pid, tid) == booting, (tid, cgroup_paths(pid, tid), booting)
    r = swell.invoke(name, {})
    assert function_error(r) is None and r.headers["X-Swell-Cold-Start"] == "true", r.text
    body = r.json()
    assert body["pid"] in waiting, (body, waiting)
    paths = cgroup_paths(body["pid"])
    assert f"/swell-{server.pid}/prebooted/p" in paths["memory"], paths
    memory_dir = f"/sys/fs/cgroup/memory{paths['memory']}"
    pids_dir = f"/sys/fs/cgroup/pids{paths['pids']}"
    assert int(Path(memory_dir, "memory.limit_in_bytes").read_text()) == 192 * 1024 * 1024
    assert Path(pids_dir, "pids.max").read_text().strip() == "1024"
    # The move to the function's cpu group follows the hand-over.
    deadline = time.time() + 10
    while time.time() < deadline and f"/default.{name}." not in cgroup_paths(body["pid"])["cpu"]:
        time.sleep(0.05)
    paths = cgroup_paths(body["pid"])
    assert f"/swell-{server.pid}/default.{name}." in paths["cpu"], paths
    assert int(Path(f"/sys/fs/cgroup/cpu{paths['cpu']}", "cpu.shares").read_text()) == 192 * 1024 // 1769
    # The detached child is in the instance's memory and pids groups (whichever cpu group it was forked in).
    child = cgroup_paths(body["child"])
    assert child["memory"] == paths["memory"] and child["pids"] == paths["pids"], (child, paths)
    # Deleting the function stops the instance: its processes are killed and its groups removed.
    assert swell.api("DELETE", f"/v1/namespaces/default/functions/{name}").status_code in (200, 204)
    deadline = time.time() + 15
    while time.time() < deadline and (Path(memory_dir).exists() or Path(pids_dir).exists() or Path(f"/proc/{body['child']}").exists()):
        time.sleep(0.1)
    assert not Path(memory_dir).exists(), "the instance's memory group outlived it"
    assert not Path(pids_dir).exists(), "the instance's pids group outlived it"
    assert not Path(f"/proc/{body['child']}").exists(), "the function's detached child outlived its instance"

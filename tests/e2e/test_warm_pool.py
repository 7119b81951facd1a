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
        except (OSError, ValueError, IndexError):
            continue
        if any(arg.endswith(runtime_file.encode()) for arg in cmdline) and b"SWELL_PREWARM=1" in environ:
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

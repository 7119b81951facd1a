"""Fixtures of the Swell end-to-end suite.

- `server`: one `swell serve --data-dir TMP --port FREE_PORT` for the whole session
  (binary from $SWELL_BIN, default /work/main/.build/debug/swell), stopped by PID at the
  end (SIGTERM, SIGKILL after 10 s).
- `swell`: a `Client` of that server with its admin key (REST via requests, CLI via
  subprocess with SWELL_URL / SWELL_KEY set, `deploy()` of a generated swell.yaml).
- `make_server`: starts extra servers (own data dir unless given) that are stopped at the
  end of the test; `SwellServer.restart()` / `stop()` + `start()` restart one on the same
  data dir.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from swell_e2e import SWELL_BIN, Client, SwellServer  # noqa: E402


def pytest_configure(config):
    if not os.access(SWELL_BIN, os.X_OK):
        raise pytest.UsageError(f"swell binary not found at {SWELL_BIN} (set SWELL_BIN or build it first)")


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> SwellServer:
    base = tmp_path_factory.mktemp("swell")
    # A variable of the server's own environment that instances must NOT inherit.
    srv = SwellServer(base / "data", log_path=base / "server.log", env={"E2E_SERVER_SECRET": "must-not-leak"})
    srv.start()
    yield srv
    code = srv.stop()
    # Surface the server log location for post-mortems.
    print(f"\nswell server log: {srv.log_path} (exit {code})")


@pytest.fixture(scope="session")
def swell(server) -> Client:
    return server.client()


@pytest.fixture
def app_dir(tmp_path) -> Path:
    d = tmp_path / "app"
    d.mkdir()
    return d


@pytest.fixture
def unique():
    """unique('name') -> 'name-1a2b3c': function names that no other test uses."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def make_server(tmp_path):
    started: list[SwellServer] = []

    def make(data_dir: Path | None = None, **kw) -> SwellServer:
        d = data_dir or tmp_path / f"data{len(started)}"
        kw.setdefault("log_path", tmp_path / f"server{len(started)}.log")
        srv = SwellServer(d, **kw)
        started.append(srv)
        return srv.start()

    yield make
    for srv in started:
        srv.stop()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" and rep.failed:
        srv = item.funcargs.get("server")
        if srv is None and "swell" in item.funcargs:
            srv = item.funcargs["swell"].server
        if isinstance(srv, SwellServer):
            rep.sections.append(("swell server log (tail)", srv.log()[-4000:]))

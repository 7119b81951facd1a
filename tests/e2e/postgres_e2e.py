"""A PostgreSQL server for the scale-out tests, and a fresh database per test.

The server is SWELL_TEST_POSTGRES_URL's when set (scripts/test.sh starts one); otherwise
tests/postgres_tools/start_postgres.sh starts one for the session (initdb in a temporary
directory owned by `postgres`, a free loopback port) and stops it by PID at the end.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest

TOOLS = Path(__file__).resolve().parent.parent / "postgres_tools"


class Postgres:
    def __init__(self, url: str, bin_dir: str | None):
        self.url = url
        self.bin_dir = bin_dir or sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1].as_posix()
        u = urlparse(url)
        self.user, self.host, self.port = u.username, u.hostname, u.port or 5432
        self.admin_db = u.path.lstrip("/")

    def psql(self, sql: str, db: str | None = None) -> str:
        out = subprocess.run(
            [f"{self.bin_dir}/psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-h", self.host, "-p", str(self.port),
             "-U", self.user, "-d", db or self.admin_db, "-c", sql],
            capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    def fresh_database(self) -> str:
        """Creates an empty database; returns its URL."""
        name = "swell_e2e_" + uuid.uuid4().hex[:12]
        self.psql(f"CREATE DATABASE {name}")
        return f"postgres://{self.user}@{self.host}:{self.port}/{name}"


@pytest.fixture(scope="session")
def postgres():
    url = os.environ.get("SWELL_TEST_POSTGRES_URL")
    if url:
        yield Postgres(url, os.environ.get("SWELL_TEST_POSTGRES_BIN"))
        return
    out = subprocess.run([str(TOOLS / "start_postgres.sh")], capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        pytest.fail(f"cannot start PostgreSQL for the scale-out tests: {out.stderr}")
    env = dict(line.removeprefix("export ").split("=", 1) for line in out.stdout.splitlines() if line.startswith("export "))
    try:
        yield Postgres(env["SWELL_TEST_POSTGRES_URL"], env.get("SWELL_TEST_POSTGRES_BIN"))
    finally:
        subprocess.run([str(TOOLS / "stop_postgres.sh")], env={**os.environ, **env}, timeout=60)

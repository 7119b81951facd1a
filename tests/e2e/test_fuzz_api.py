"""API fuzzing: schemathesis generates requests for every operation of the server's own
`/v1/openapi.yaml` (valid and invalid ones) and checks that none gets a 5xx and that every
response (status, content type, headers, body) matches the document. About 3,000 cases in
all, bounded to a few minutes. The key-revocation route is left out (it would revoke the key
the fuzzer uses)."""

from __future__ import annotations

import time

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, Phase, settings  # noqa: E402  (installed with schemathesis)
from schemathesis import checks  # noqa: E402

from swell_e2e import SwellServer  # noqa: E402

EXAMPLES_PER_OPERATION = 60
# Cases stop being sent once this much time has passed (on a loaded machine fewer cases run;
# the count is printed at the end).
BUDGET_SECONDS = 150
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]

_state: dict = {}


@schemathesis.serializer("application/x-tar")
def _tar(ctx, value):
    """Code packages are raw bytes (`format: binary`): send whatever was generated as is."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return str(value).encode()


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("fuzz")
    srv = SwellServer(base / "data", log_path=base / "server.log", extra_args=["--no-warm-pool"])
    srv.start()
    yield srv
    srv.stop()
    slowest = sorted(_state.get("time", {}).items(), key=lambda kv: -kv[1])[:5]
    print(f"\nfuzzing: {_state.get('cases', 0)} cases in {time.monotonic() - _state.get('start', time.monotonic()):.0f} s; "
          f"slowest operations: {[(k, round(v, 1)) for k, v in slowest]}; server log: {srv.log_path}")


@pytest.fixture(scope="module")
def api_schema(fuzz_server):
    schema = schemathesis.openapi.from_url(f"{fuzz_server.url}/v1/openapi.yaml")
    return schema.exclude(path="/v1/namespaces/{namespace}/keys/{id}", method="DELETE")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi_document(case, fuzz_server):
    start = _state.setdefault("start", time.monotonic())
    if time.monotonic() - start > BUDGET_SECONDS:
        return
    # Long polls would only spend the budget waiting.
    if case.query and "wait" in case.query:
        case.query["wait"] = 0
    t0 = time.monotonic()
    try:
        case.call_and_validate(base_url=fuzz_server.url, headers={"Authorization": f"Bearer {fuzz_server.admin_key}"},
                               checks=CHECKS, timeout=15)
    finally:
        label = f"{case.method} {case.path}"
        _state.setdefault("time", {})[label] = _state.get("time", {}).get(label, 0) + time.monotonic() - t0
        _state["cases"] = _state.get("cases", 0) + 1

"""The console's usage, audit and workflow pages against a real `swell serve` (no canned
answers): a known number of invocations read back on the usage page as `GET /v1/usage`
gives them, control-plane changes on the audit page (a namespace key sees only its
namespace), and a real workflow execution opened, drawn with its path and history, and
stopped from the page.

The server is this module's own (a fresh data directory), so the usage and the audit log
it shows are only this module's.
"""

from __future__ import annotations

import json
import time

import pytest

from swell_e2e import SwellServer, node_fn

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="pip install playwright (scripts/test.sh does) to run the console tests")

from test_console import Page, browser, chromium_path  # noqa: E402,F401  (the browser fixture and page helper)

NS = "live"
OTHER = "elsewhere"
PRICES = {"perGBSecond": 0.5, "perMillionRequests": 20000.0, "alwaysOnPerGBHour": 2.0}
LIST_PRICES = {"perGBSecond": 0.0000166667, "perMillionRequests": 0.2, "alwaysOnPerGBHour": 0.0125}
CALLS = 7
MEMORY = 128

SLEEPY = "exports.handler = async (e) => { await new Promise(r => setTimeout(r, e.ms || 5)); return { ok: true, name: e.name }; };"

HOLD = {
    "Comment": "greets, then waits ten minutes",
    "StartAt": "Greet",
    "States": {
        "Greet": {"Type": "Task", "Resource": "swell:function:metered", "Next": "Hold"},
        "Hold": {"Type": "Wait", "Seconds": 600, "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}


def wait_for(what, fn, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    base = tmp_path_factory.mktemp("console-live")
    prices = base / "prices.json"
    prices.write_text(json.dumps(PRICES))
    srv = SwellServer(base / "data", log_path=base / "server.log", extra_args=["--prices", str(prices)]).start()
    admin = srv.client()
    admin.deploy(base / "app", {"metered": node_fn(SLEEPY, memory=MEMORY)}, namespace=NS)
    admin.deploy(base / "other", {"outsider": node_fn(SLEEPY)}, namespace=OTHER)
    r = admin.api("POST", f"/v1/namespaces/{NS}/keys", json_body={"role": "developer", "name": "console-live"})
    assert r.status_code == 201, r.text
    yield {"srv": srv, "admin": admin, "dev": r.json()["key"], "dev_id": r.json().get("id") or r.json().get("keyId")}
    srv.stop()
    print(f"\nswell server log: {srv.log_path}")


@pytest.fixture
def console(browser, live):
    pages: list[Page] = []

    def make() -> Page:
        p = Page(browser, live["srv"].url)
        pages.append(p)
        return p

    yield make
    for p in pages:
        p.close()


def usage(client, **params):
    r = client.api("GET", "/v1/usage", params=params)
    assert r.status_code == 200, r.text
    return r.json()


# ---- usage -----------------------------------------------------------------------------


def test_usage_page_shows_the_metered_invocations_gb_seconds_and_cost_of_the_api(console, live):
    admin = live["admin"]
    for i in range(CALLS):
        admin.invoke_ok("metered", {"ms": 1 + i % 3, "name": f"n{i}"}, ns=NS)
    # The meter writes once a second: wait until the API has all of them.
    wait_for("the usage of the invocations",
             lambda: usage(admin, namespace=NS, by="function")["totals"]["invocations"] == CALLS)

    p = console().sign_in(live["dev"])
    p.go("#/usage?range=24h")
    api_hour = usage(admin, namespace=NS, by="hour", since=p.page.evaluate(
        "() => new Date(Date.now() - 23 * 3600e3).toISOString().slice(0, 13) + ':00:00Z'"))
    t = api_hour["totals"]
    assert t["invocations"] == CALLS
    # The billed milliseconds x memory of the records, as the API reports them.
    assert t["gbSeconds"] == pytest.approx(t["billedMs"] / 1000 * MEMORY / 1024)
    assert t["cost"]["total"] > 0

    def kpi(name):
        return float(p.page.get_attribute(f"[data-kpi={name}]", "data-value"))

    assert kpi("invocations") == CALLS
    assert int(p.page.inner_text("[data-kpi=invocations] .kpi-value").replace(",", "")) == CALLS
    assert kpi("errors") == 0
    assert kpi("gbSeconds") == pytest.approx(t["gbSeconds"])
    assert kpi("cost") == pytest.approx(t["cost"]["total"])
    assert kpi("alwaysOnCost") == pytest.approx(t["alwaysOnCost"])
    assert kpi("saving") == pytest.approx(t["alwaysOnCost"] - t["cost"]["total"])
    # What is written is the number, not a rounding of it to nothing.
    shown_gbs = p.page.inner_text("[data-kpi=gbSeconds] .kpi-value")
    assert float(shown_gbs.replace(",", "")) == pytest.approx(t["gbSeconds"], rel=0.05), shown_gbs
    shown_cost = p.page.inner_text("[data-kpi=cost] .kpi-value")
    assert float(shown_cost.lstrip("$").replace(",", "")) == pytest.approx(t["cost"]["total"], rel=0.01), shown_cost

    # The bar of the current hour is the API's row for it.
    rows = {r["period"]: r for r in api_hour["rows"]}
    bars = p.page.eval_on_selector_all("[data-chart=invocations] g[data-series=invocations] rect",
                                       "rs => rs.map(r => [r.dataset.label, Number(r.dataset.value)])")
    assert len(bars) == 24
    hour = max(rows)
    assert bars[-1] == [hour[11:16], rows[hour]["invocations"]]
    gbs = p.page.eval_on_selector_all("[data-chart=gbSeconds] g[data-series='GB-s'] rect", "rs => rs.map(r => Number(r.dataset.value))")
    assert gbs[-1] == pytest.approx(rows[hour]["gbSeconds"])

    # The per-function table and the prices in force.
    row = p.page.locator("tr[data-function=metered]")
    assert row.count() == 1
    assert str(CALLS) in row.inner_text()
    assert "outsider" not in p.view_text()
    assert "$0.5" in p.view_text() and "$20000" in p.view_text()

    # At the documented list prices a few calls cost a fraction of a cent: the page still
    # shows the figure (not $0.0000), and it is the API's.
    r = admin.api("PUT", "/v1/prices", json_body=LIST_PRICES)
    assert r.status_code == 200, r.text
    p.go("#/usage?range=24h")
    t = usage(admin, namespace=NS, by="hour", since=api_hour["since"])["totals"]
    assert 0 < t["cost"]["total"] < 0.0001
    assert kpi("cost") == pytest.approx(t["cost"]["total"])
    shown_cost = p.page.inner_text("[data-kpi=cost] .kpi-value")
    assert float(shown_cost.lstrip("$").replace(",", "")) == pytest.approx(t["cost"]["total"], rel=0.01), shown_cost
    cell = p.page.inner_text("tr[data-function=metered] td:nth-child(9)")
    assert float(cell.lstrip("$")) == pytest.approx(t["cost"]["total"], rel=0.01), cell
    assert "$0.0000166667" in p.view_text()
    assert p.problems == [], p.problems
    admin.api("PUT", "/v1/prices", json_body=PRICES)



# ---- audit -----------------------------------------------------------------------------


def audit(client, **params):
    r = client.api("GET", "/v1/audit", params=params)
    assert r.status_code == 200, r.text
    return r.json()["entries"]


def test_control_plane_changes_show_on_the_audit_page_and_a_namespace_key_sees_only_its_own(console, live):
    admin = live["admin"]
    # Changes in both namespaces (the deploys of the fixture are there already).
    r = admin.api("POST", f"/v1/namespaces/{NS}/functions/metered/versions", json_body={"description": "from the audit test"})
    assert r.status_code in (200, 201), r.text
    r = admin.api("PUT", f"/v1/namespaces/{NS}/functions/metered/aliases/live", json_body={"version": "1"})
    assert r.status_code in (200, 201), r.text
    r = admin.api("POST", f"/v1/namespaces/{OTHER}/keys", json_body={"role": "invoker", "name": "other-key"})
    assert r.status_code == 201, r.text
    ours = audit(admin, namespace=NS, limit=100)
    theirs = audit(admin, namespace=OTHER, limit=100)
    assert {"function.publish", "alias.put", "key.create", "namespace.deploy"} <= {e["action"] for e in ours}, ours
    assert "key.create" in {e["action"] for e in theirs}

    # The admin, in the namespace: the page lists the API's entries, newest first.
    p = console().sign_in(live["srv"].admin_key, ns=NS)
    p.go("#/audit")
    ids = p.page.eval_on_selector_all("tr[data-entry]", "rs => rs.map(r => r.dataset.entry)")
    assert ids == [e["id"] for e in ours]
    publish = next(e for e in ours if e["action"] == "function.publish")
    row = p.page.inner_text(f"tr[data-entry='{publish['id']}']")
    assert "function.publish" in row and "metered" in row and publish["keyId"] in row and "admin" in row
    assert "from the audit test" in row
    alias = next(e for e in ours if e["action"] == "alias.put")
    assert "version=" in p.page.inner_text(f"tr[data-entry='{alias['id']}']")
    assert p.problems == [], p.problems

    # A developer key of the namespace: only its namespace, and its own change is there too.
    dev = admin.with_key(live["dev"])
    r = dev.api("POST", f"/v1/namespaces/{NS}/functions/metered/versions", json_body={"description": "by the developer"})
    assert r.status_code in (200, 201), r.text
    assert dev.api("GET", "/v1/audit", params={"namespace": OTHER}).status_code == 403
    q = console().sign_in(live["dev"])
    q.go("#/audit")
    namespaces = q.page.eval_on_selector_all("tr[data-entry] td:nth-child(4)", "ts => ts.map(t => t.textContent)")
    assert namespaces and set(namespaces) == {NS}, namespaces
    assert len(namespaces) == len(audit(admin, namespace=NS, limit=100))
    assert "by the developer" in q.view_text() and "developer" in q.view_text()
    assert "other-key" not in q.view_text()
    assert q.problems == [], q.problems


# ---- workflows -------------------------------------------------------------------------


def test_a_real_execution_is_drawn_with_its_path_and_history_and_stopped_from_the_page(console, live):
    admin = live["admin"]
    base = f"/v1/namespaces/{NS}/workflows/hold"
    r = admin.api("PUT", base, json_body={"definition": HOLD})
    assert r.status_code in (200, 201), r.text
    r = admin.api("POST", f"{base}/executions", json_body={"name": "run-1", "input": {"name": "ada", "ms": 1}})
    assert r.status_code in (200, 201, 202), r.text

    def history():
        r = admin.api("GET", f"{base}/executions/run-1/history", params={"limit": 1000})
        assert r.status_code == 200, r.text
        return r.json()["events"]

    wait_for("the execution to wait in Hold", lambda: any(e["type"] == "WaitStateEntered" for e in history()))

    p = console().sign_in(live["dev"])
    p.go("#/workflows")
    p.page.locator("tr[data-workflow=hold] a").click()
    p.ready()
    assert sorted(p.page.eval_on_selector_all(".wfgraph .node", "ns => ns.map(n => n.dataset.state)")) == ["Done", "Greet", "Hold"]
    assert p.page.locator(".wfgraph .edge").count() == 2
    assert p.page.locator("tr[data-execution=run-1]").count() == 1
    assert "RUNNING" in p.page.inner_text("tr[data-execution=run-1]")

    p.page.locator("tr[data-execution=run-1] a").click()
    p.ready()
    marks = dict(p.page.eval_on_selector_all(".wfgraph .node", "ns => ns.map(n => [n.dataset.state, n.dataset.mark])"))
    assert marks == {"Greet": "visited", "Hold": "current", "Done": ""}
    events = history()
    assert p.page.locator("tr[data-event]").count() == len(events)
    assert [q for q in p.page.eval_on_selector_all("tr[data-event] code", "cs => cs.map(c => c.textContent)")] == [e["type"] for e in events]
    assert '"name":"ada"' in p.view_text().replace(" ", "")       # the input
    assert p.page.locator("#execution-status .pill-running").count() == 1

    p.page.click("[data-testid=execution-stop]")
    p.page.wait_for_selector("#execution-status .pill-aborted")
    ex = admin.api("GET", f"{base}/executions/run-1").json()["execution"]
    assert ex["status"] == "ABORTED"
    assert ex["error"] == "Console.Stopped"
    # Stopped in Hold: the state it stopped in is marked, the history ends with the abort.
    assert p.page.get_attribute(".wfgraph .node[data-state=Hold]", "data-mark") == "failed"
    assert p.page.get_attribute(".wfgraph .node[data-state=Greet]", "data-mark") == "visited"
    events = history()
    assert events[-1]["type"] == "ExecutionAborted"
    assert p.page.locator("tr[data-event]").count() == len(events)
    assert p.page.locator("[data-testid=execution-redrive]").count() == 1
    assert p.page.locator("[data-testid=execution-stop]").count() == 0

    # The workflow's executions by status, as the server filters them.
    p.go("#/workflows/hold?status=ABORTED")
    assert p.page.locator("tr[data-execution=run-1]").count() == 1
    p.go("#/workflows/hold?status=RUNNING")
    assert p.page.locator("tr[data-execution=run-1]").count() == 0

    # Redrive from the page: it runs again from where it stopped, waiting in Hold.
    p.go("#/workflows/hold/executions/run-1")
    p.page.click("[data-testid=execution-redrive]")
    p.page.wait_for_selector("#execution-status .pill-running")
    ex = admin.api("GET", f"{base}/executions/run-1").json()["execution"]
    assert ex["status"] == "RUNNING" and ex["redriveCount"] == 1
    p.page.wait_for_function("() => document.querySelector('.wfgraph .node[data-state=Hold]').dataset.mark === 'current'")
    admin.api("POST", f"{base}/executions/run-1/stop", json_body={"error": "Test.Done"})
    assert p.problems == [], p.problems


FAILING = "exports.handler = async (e) => { throw new Error('no grade for ' + e.name); };"


def test_a_failed_execution_marks_the_state_it_failed_in(console, live, tmp_path):
    admin = live["admin"]
    admin.deploy(tmp_path / "app", {"metered": node_fn(SLEEPY, memory=MEMORY), "failing": node_fn(FAILING)}, namespace=NS)
    base = f"/v1/namespaces/{NS}/workflows/breaks"
    definition = {"StartAt": "Greet", "States": {
        "Greet": {"Type": "Task", "Resource": "swell:function:metered", "Next": "Grade"},
        "Grade": {"Type": "Task", "Resource": "swell:function:failing", "Next": "Done"},
        "Done": {"Type": "Succeed"}}}
    assert admin.api("PUT", base, json_body={"definition": definition}).status_code in (200, 201)
    r = admin.api("POST", f"{base}/executions", params={"wait": "true"}, json_body={"name": "f1", "input": {"name": "<b>bob</b>"}})
    assert r.status_code in (200, 201), r.text
    assert r.json()["execution"]["status"] == "FAILED", r.text

    p = console().sign_in(live["dev"])
    p.go("#/workflows/breaks/executions/f1")
    assert p.page.locator("#execution-status .pill-failed").count() == 1
    marks = dict(p.page.eval_on_selector_all(".wfgraph .node", "ns => ns.map(n => [n.dataset.state, n.dataset.mark])"))
    assert marks == {"Greet": "visited", "Grade": "failed", "Done": ""}
    assert "no grade for <b>bob</b>" in p.view_text()
    assert p.page.locator("[data-testid=execution-redrive]").count() == 1
    assert p.problems == [], p.problems

"""Metrics of issue 15, item 4, on a server of its own: per-function run-duration histograms
split by cold and warm start, init durations, queue waits, errors by type, throttles by
reason, instances by state and their memory, through swift-metrics and swift-prometheus."""

from __future__ import annotations

import re
import threading

from swell_e2e import node_fn

SLEEPY = "exports.handler = async (e) => { await new Promise(r => setTimeout(r, e.ms || 1)); if (e.fail) throw new Error('no'); return 'ok'; };"


def scrape(client):
    r = client.api("GET", "/v1/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain")
    return r.text


def samples(text):
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_histograms_count_what_was_invoked(make_server, tmp_path):
    srv = make_server(tmp_path / "data")
    admin = srv.client()
    admin.deploy(tmp_path / "app", {
        "hist": node_fn(SLEEPY, memory=192),
        "narrow": node_fn(SLEEPY, scaling={"maxInstances": 1}, concurrency=1),
    })
    for ms in (1, 30, 60):
        admin.invoke_ok("hist", {"ms": ms})
    failed = admin.invoke("hist", {"fail": True})
    assert failed.headers.get("X-Swell-Function-Error") == "Unhandled", failed.headers
    text = scrape(admin)
    s = samples(text)
    fn = 'namespace="default",function="hist"'
    # One cold start, three warm invocations; each histogram's +Inf bucket equals its count.
    assert s[f'swell_invocation_duration_seconds_count{{{fn},start="cold"}}'] == 1
    assert s[f'swell_invocation_duration_seconds_count{{{fn},start="warm"}}'] == 3
    for start in ("cold", "warm"):
        inf = s[f'swell_invocation_duration_seconds_bucket{{{fn},start="{start}",le="+Inf"}}']
        assert inf == s[f'swell_invocation_duration_seconds_count{{{fn},start="{start}"}}']
    # The 60 ms invocation is above the 50 ms bound and within the 100 ms one.
    warm_50 = s[f'swell_invocation_duration_seconds_bucket{{{fn},start="warm",le="0.05"}}']
    warm_100 = s[f'swell_invocation_duration_seconds_bucket{{{fn},start="warm",le="0.1"}}']
    assert warm_50 <= 2 and warm_100 == 3, (warm_50, warm_100)
    assert s[f'swell_invocation_duration_seconds_sum{{{fn},start="warm"}}'] >= 0.09
    assert s[f"swell_init_duration_seconds_count{{{fn}}}"] == 1
    assert s[f"swell_init_duration_seconds_sum{{{fn}}}"] > 0
    assert s[f"swell_queue_wait_seconds_count{{{fn}}}"] == 4
    assert s[f'swell_function_errors_total{{{fn},type="Unhandled"}}'] == 1
    # Instances by state and their memory.
    assert s[f'swell_instances_by_state{{{fn},state="idle"}}'] == 1
    assert s[f'swell_instance_memory_limit_bytes{{{fn},state="idle"}}'] == 192 * 1024 * 1024
    assert s[f'swell_instance_resident_bytes{{{fn},state="idle"}}'] > 1024 * 1024
    assert s[f"swell_instances{{{fn}}}"] == 1
    assert s["swell_memory_budget_bytes"] > 0
    # The earlier families are still there, and no family is described twice.
    assert s[f"swell_invocations_total{{{fn}}}"] == 4
    types = re.findall(r"^# TYPE (\S+) ", text, re.M)
    assert len(types) == len(set(types)), [t for t in types if types.count(t) > 1]

    # Throttles by reason: one slot, a short queue wait, more callers than it can take.
    admin.invoke_ok("narrow", {"ms": 1})
    codes = []
    def call():
        codes.append(admin.invoke("narrow", {"ms": 1500}, timeout=120).status_code)
    threads = [threading.Thread(target=call) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    throttled = codes.count(429)
    s = samples(scrape(admin))
    reasons = {k: v for k, v in s.items() if k.startswith('swell_throttled_requests_total{namespace="default",function="narrow"')}
    # 18 s of work behind one slot and a 10 s queue wait: some callers must time out.
    assert throttled >= 1 and set(codes) <= {200, 429}, codes
    assert sum(reasons.values()) == throttled, (reasons, codes)
    assert reasons.get('swell_throttled_requests_total{namespace="default",function="narrow",reason="queue_timeout"}') == throttled
    # A scrape by a key that is not the platform admin is refused.
    dev = admin.api("POST", "/v1/namespaces/default/keys", json_body={"role": "developer"}).json()["key"]
    assert admin.api("GET", "/v1/metrics", key=dev).status_code == 403

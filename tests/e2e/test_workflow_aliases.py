"""Weighted workflow aliases: an alias with a second version and a weight starts a share of
executions on it, chosen once per execution at its start and recorded (describe shows it;
a redrive keeps it); the alias is validated like a function's."""

from __future__ import annotations

import time

NS = "default"


def put(swell, wf, result, fail=False):
    # A Task on a function that does not exist fails (Lambda.ResourceNotFoundException), again on a redrive.
    state = ({"Type": "Task", "Resource": "swell:function:no-such-function-here", "End": True} if fail
             else {"Type": "Pass", "Result": result, "End": True})
    r = swell.api("PUT", f"/v1/namespaces/{NS}/workflows/{wf}", json_body={"definition": {"StartAt": "P", "States": {"P": state}}})
    assert r.status_code in (200, 201), r.text


def publish(swell, wf):
    r = swell.api("POST", f"/v1/namespaces/{NS}/workflows/{wf}/versions", json_body={})
    assert r.status_code in (200, 201), r.text
    return r.json()["version"]["version"]


def alias(swell, wf, name, body):
    return swell.api("PUT", f"/v1/namespaces/{NS}/workflows/{wf}/aliases/{name}", json_body=body)


def test_a_weighted_alias_splits_starts_and_records_the_version(swell, unique):
    wf = unique("canary")
    put(swell, wf, "one")
    assert publish(swell, wf) == "1"
    put(swell, wf, "two")
    assert publish(swell, wf) == "2"
    r = alias(swell, wf, "live", {"version": "1", "additionalVersionWeights": {"2": 0.5}})
    assert r.status_code == 200, r.text
    assert r.json()["alias"]["additionalVersionWeights"] == {"2": 0.5}, r.text
    listed = swell.api("GET", f"/v1/namespaces/{NS}/workflows/{wf}/aliases").json()["aliases"]
    assert listed == [{"workflow": wf, "name": "live", "version": "1", "additionalVersionWeights": {"2": 0.5}}], listed

    counts = {"1": 0, "2": 0}
    for i in range(200):
        r = swell.api("POST", f"/v1/namespaces/{NS}/workflows/{wf}/executions",
                      json_body={"input": {}, "name": f"e{i}"}, params={"qualifier": "live"})
        assert r.status_code == 201, r.text
        counts[r.json()["execution"]["version"]] += 1
    # Binomial(200, 0.5): 100 ± 7 (one sigma); outside 60..140 is a broken choice, not bad luck.
    assert 60 <= counts["2"] <= 140 and counts["1"] + counts["2"] == 200, counts
    # Each execution ran the version it recorded.
    for i in range(0, 200, 25):
        e = swell.api("GET", f"/v1/namespaces/{NS}/workflows/{wf}/executions/e{i}").json()["execution"]
        assert e["status"] in ("RUNNING", "SUCCEEDED"), e
        if e["status"] == "SUCCEEDED":
            assert e["output"] == {"1": "one", "2": "two"}[e["version"]], e
    # A second start of an existing name answers it, whatever the weights.
    first = swell.api("GET", f"/v1/namespaces/{NS}/workflows/{wf}/executions/e0").json()["execution"]
    again = swell.api("POST", f"/v1/namespaces/{NS}/workflows/{wf}/executions",
                      json_body={"input": {}, "name": "e0"}, params={"qualifier": "live"})
    assert again.status_code == 200 and again.json()["execution"]["version"] == first["version"], again.text


def test_a_redrive_keeps_the_chosen_version(swell, unique):
    wf = unique("keep")
    put(swell, wf, None, fail=True)
    publish(swell, wf)  # 1 fails
    put(swell, wf, "ok")
    publish(swell, wf)  # 2 succeeds
    # Weight 0.999 on version 1: a failed execution on 1 comes at once.
    assert alias(swell, wf, "live", {"version": "2", "additionalVersionWeights": {"1": 0.999}}).status_code == 200
    failed = None
    for i in range(20):
        r = swell.api("POST", f"/v1/namespaces/{NS}/workflows/{wf}/executions",
                      json_body={"input": {}, "name": f"r{i}"}, params={"qualifier": "live", "wait": "true"})
        e = r.json()["execution"]
        if e["version"] == "1":
            failed = e
            break
    assert failed and failed["status"] == "FAILED", failed
    # Now the alias sends everything to 2; the redrive still runs version 1 (and fails again).
    assert failed["error"] == "Lambda.ResourceNotFoundException", failed
    assert alias(swell, wf, "live", {"version": "2"}).status_code == 200
    r = swell.api("POST", f"/v1/namespaces/{NS}/workflows/{wf}/executions/{failed['name']}/redrive")
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        e = swell.api("GET", f"/v1/namespaces/{NS}/workflows/{wf}/executions/{failed['name']}").json()["execution"]
        if e["status"] != "RUNNING":
            break
        time.sleep(0.1)
    assert e["version"] == "1" and e["status"] == "FAILED" and e["redriveCount"] == 1, e


def test_alias_validation_names_the_field(swell, unique):
    wf = unique("valid")
    put(swell, wf, "one")
    publish(swell, wf)
    for body, field in [
        ({"version": "1", "additionalVersionWeights": {"2": 0.5}}, "additionalVersionWeights.2"),
        ({"version": "3"}, "version"),
        ({"version": "1", "additionalVersionWeights": {"1": 0.5}}, "additionalVersionWeights.1"),
        ({"version": "1", "additionalVersionWeights": {"2": 1.5}}, "additionalVersionWeights.2"),
        ({"version": "1", "additionalVersionWeights": {"2": 0}}, "additionalVersionWeights.2"),
        ({}, "version"),
        ({"version": "1", "weights": {}}, "weights"),
    ]:
        r = alias(swell, wf, "live", body)
        assert r.status_code == 400 and r.json()["error"]["field"] == field, (body, r.text)
    assert swell.api("GET", f"/v1/namespaces/{NS}/workflows/{wf}/aliases").json()["aliases"] == []
    # The CLI sets weights too.
    put(swell, wf, "two")
    publish(swell, wf)
    out = swell.cli("workflows", "alias", wf, "live", "1", "--weight", "2=0.25").ok().stdout
    assert out.strip() == f"{wf}:live -> 1 (+2=0.25)", out

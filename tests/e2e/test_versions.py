"""Versions, aliases and weighted routing."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

from swell_e2e import function_error, node_fn

SOURCE = r"""
exports.handler = async (event, context) => ({
  color: process.env.COLOR,
  version: context.functionVersion,
  envVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
  arn: context.invokedFunctionArn,
});
"""


def deploy_color(swell, app_dir, name, color):
    return swell.deploy(app_dir, {name: node_fn(SOURCE, environment={"COLOR": color})})


def test_versions_aliases_and_weighted_routing(swell, app_dir, unique):
    name = unique("ver")
    deploy_color(swell, app_dir, name, "blue")
    v1 = swell.cli("publish", name, "--description", "first").ok()
    assert v1.stdout.strip() == "1"
    # Publishing again without a change returns the same version.
    again = swell.api("POST", f"/v1/namespaces/default/functions/{name}/versions", json_body={})
    assert again.status_code == 200, again.text
    assert again.json()["version"] == "1"

    res = deploy_color(swell, app_dir, name, "green")
    assert f"updated {name} (environment)" in res.stdout, res
    v2 = swell.cli("publish", name).ok()
    assert v2.stdout.strip() == "2"

    versions = swell.api("GET", f"/v1/namespaces/default/functions/{name}/versions").json()["versions"]
    by_number = {v["version"]: v for v in versions}
    assert by_number["1"]["environment"] == {"COLOR": "blue"}
    assert by_number["2"]["environment"] == {"COLOR": "green"}
    assert by_number["1"]["description"] == "first"

    # Qualified invocations.
    r1 = swell.invoke(f"{name}:1")
    assert r1.status_code == 200 and function_error(r1) is None, r1.text
    assert r1.headers["X-Swell-Executed-Version"] == "1"
    assert r1.json()["color"] == "blue"
    assert r1.json()["version"] == "1" == r1.json()["envVersion"]
    r2 = swell.invoke(name, qualifier="2")
    assert r2.headers["X-Swell-Executed-Version"] == "2"
    assert r2.json()["color"] == "green"
    cli1 = swell.cli("invoke", f"{name}:1").ok()
    assert '"blue"' in cli1.stdout

    # Alias live -> 1, then a 30 % canary to 2.
    swell.cli("alias", "set", name, "live", "1").ok()
    rl = swell.invoke(f"{name}:live")
    assert rl.headers["X-Swell-Executed-Version"] == "1"
    assert rl.json()["color"] == "blue"
    assert rl.json()["arn"].endswith(f":function:{name}:live"), rl.json()["arn"]

    out = swell.cli("alias", "set", name, "live", "1", "--weight", "2=0.3").ok()
    assert "live -> 1" in out.stdout
    aliases = swell.api("GET", f"/v1/namespaces/default/functions/{name}/aliases").json()["aliases"]
    live = next(a for a in aliases if a["name"] == "live")
    assert live["version"] == "1"
    assert abs(float(live["additionalVersionWeights"]["2"]) - 0.3) < 1e-9

    n = 400

    def one(_):
        r = swell.invoke(name, qualifier="live")
        assert r.status_code == 200 and function_error(r) is None, r.text
        return r.headers["X-Swell-Executed-Version"], r.json()["color"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, range(n)))
    counts = {"1": 0, "2": 0}
    for version, color in results:
        assert version in counts, version
        assert color == {"1": "blue", "2": "green"}[version], (version, color)
        counts[version] += 1
    p = 0.3
    mean, sigma = n * p, math.sqrt(n * p * (1 - p))
    assert abs(counts["2"] - mean) <= 5 * sigma, f"v2 got {counts['2']}/{n}, expected ~{mean:.0f} ± {5 * sigma:.0f}"

    # Unknown alias / version -> 404 not_found.
    r404 = swell.invoke(f"{name}:nope")
    assert r404.status_code == 404, r404.text
    assert r404.json()["error"]["code"] == "not_found"
    r404v = swell.invoke(name, qualifier="99")
    assert r404v.status_code == 404, r404v.text
    cli404 = swell.cli("invoke", f"{name}:nope")
    assert cli404.code == 1, cli404

    # $LATEST is mutable; published versions are frozen.
    deploy_color(swell, app_dir, name, "red")
    assert swell.invoke_ok(name)["color"] == "red"
    assert swell.invoke_ok(name, qualifier="$LATEST")["color"] == "red"
    assert swell.invoke_ok(f"{name}:1")["color"] == "blue"
    assert swell.invoke_ok(f"{name}:2")["color"] == "green"

    # Alias deletion.
    swell.cli("alias", "delete", name, "live").ok()
    assert swell.invoke(f"{name}:live").status_code == 404


def test_alias_validation(swell, app_dir, unique):
    name = unique("alias-val")
    deploy_color(swell, app_dir, name, "blue")
    swell.cli("publish", name).ok()
    base = f"/v1/namespaces/default/functions/{name}/aliases"
    # An alias to a version that does not exist.
    r = swell.api("PUT", f"{base}/live", json_body={"version": "7"})
    assert r.status_code in (400, 404), r.text
    # Alias names that are numbers or $LATEST are rejected.
    r = swell.api("PUT", f"{base}/123", json_body={"version": "1"})
    assert r.status_code == 400, r.text
    # A weight outside 0..1.
    r = swell.api("PUT", f"{base}/live", json_body={"version": "1", "additionalVersionWeights": {"1": 1.5}})
    assert r.status_code == 400, r.text
    # Still invokable and unchanged.
    assert swell.invoke(f"{name}:live").status_code == 404

"""Validation: manifests and API bodies are checked and errors name the field."""

from __future__ import annotations

import pytest

from swell_e2e import node_fn, write_files

HANDLER = "exports.handler = async () => 1;"


def write_manifest(app_dir, name, entry_yaml):
    write_files(app_dir / "fn", {"index.js": HANDLER})
    (app_dir / "swell.yaml").write_text(f"functions:\n  {name}:\n    code: ./fn\n" + entry_yaml)


@pytest.mark.parametrize("entry, field, words", [
    ("    runtime: nodejs20\n    handler: index.handler\n    memory: 5\n", "memory", ["128", "10240"]),
    ("    runtime: cobol85\n    handler: index.handler\n", "runtime", ["cobol85"]),
    ("    runtime: nodejs20\n    handler: index.handler\n    memroy: 256\n", "memroy", ["unknown"]),
    ("    runtime: nodejs20\n    handler: index.handler\n    timeout: 901\n", "timeout", ["900"]),
    ("    runtime: nodejs20\n    handler: index.handler\n    concurrency: 0\n", "concurrency", []),
    ("    runtime: nodejs20\n", "handler", []),
    ("    runtime: nodejs20\n    handler: index.handler\n    environment:\n      AWS_SECRET: x\n",
     "environment.AWS_SECRET", ["reserved"]),
    ("    runtime: nodejs20\n    handler: index.handler\n    url:\n      auth: maybe\n", "url.auth", ["maybe"]),
])
def test_manifest_errors_name_the_field(swell, app_dir, unique, entry, field, words):
    name = unique("bad")
    write_manifest(app_dir, name, entry)
    res = swell.cli("deploy", str(app_dir))
    assert res.code != 0, res
    assert f"functions.{name}.{field}" in res.stderr, res
    for w in words:
        assert w in res.stderr, res
    # nothing was created
    assert swell.api("GET", f"/v1/namespaces/default/functions/{name}").status_code == 404


def test_manifest_bad_function_name_and_yaml(swell, app_dir):
    write_manifest(app_dir, "bad name!", "    runtime: nodejs20\n    handler: index.handler\n")
    res = swell.cli("deploy", str(app_dir))
    assert res.code != 0 and "functions.bad name!" in res.stderr, res
    (app_dir / "swell.yaml").write_text("functions: [unclosed\n")
    res = swell.cli("deploy", str(app_dir))
    assert res.code != 0 and "yaml" in res.stderr.lower(), res
    (app_dir / "swell.yaml").write_text("functions:\n  x:\n    runtime: nodejs20\n    handler: index.handler\n    code: ./nope\n")
    res = swell.cli("deploy", str(app_dir))
    assert res.code != 0 and "functions.x.code" in res.stderr, res


def test_cli_usage_error_exit_64(swell):
    """Usage errors exit with EX_USAGE (64), apart from function and API errors (1)."""
    res = swell.cli("invoke")
    assert res.code == 64, res
    res = swell.cli("alias", "set", "f", "live", "1", "--weight", "nonsense")
    assert res.code == 64, res


def test_api_put_bad_json(swell, unique):
    name = unique("badjson")
    r = swell.api("PUT", f"/v1/namespaces/default/functions/{name}", data="{not json",
                  headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_json"
    r = swell.api("POST", "/v1/namespaces/default/deploy", data="[1, 2",
                  headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_json", r.text


def test_api_put_invalid_field(swell, unique):
    name = unique("badfield")
    r = swell.api("PUT", f"/v1/namespaces/default/functions/{name}",
                  json_body={"runtime": "nodejs20", "handler": "index.handler", "codeSha256": "0" * 64, "memory": 5})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_field"
    assert err["field"].endswith("memory"), err
    assert "memory" in err["message"]
    r = swell.api("PUT", f"/v1/namespaces/default/functions/{name}",
                  json_body={"runtime": "nodejs20", "handler": "index.handler", "codeSha256": "0" * 64})
    assert r.status_code == 400, r.text  # no such code package
    assert "codeSha256" in r.json()["error"].get("field", "") + r.json()["error"]["message"]


def test_invoke_non_json_body(swell, app_dir, unique):
    name = unique("nonjson")
    swell.deploy(app_dir, {name: node_fn("exports.handler = async (e) => e;")})
    r = swell.invoke(name, data="this is not json")
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_json"
    r = swell.invoke(name, data=b"\xff\xfe\x00garbage")
    assert r.status_code == 400, r.text
    # An empty body is {}.
    r = swell.invoke(name, data="")
    assert r.status_code == 200 and r.json() == {}, r.text
    # Scalars are JSON too.
    r = swell.invoke(name, data="42")
    assert r.status_code == 200 and r.json() == 42, r.text


def test_invalid_qualifier_and_names(swell, app_dir, unique):
    name = unique("qual")
    swell.deploy(app_dir, {name: node_fn(HANDLER)})
    r = swell.invoke(f"{name}:..")
    assert r.status_code in (400, 404), r.text
    r = swell.invoke(name, qualifier="0")
    assert r.status_code in (400, 404), r.text
    r = swell.api("GET", "/v1/namespaces/Bad_NS/functions")
    assert r.status_code in (400, 404), r.text

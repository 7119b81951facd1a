"""The repository's examples deploy and answer."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess

import pytest
import requests

from swell_e2e import REPO_ROOT, function_error

EXAMPLES = REPO_ROOT / "examples"


def curl_post_png(url, png_path, extra_headers=()):
    """Exactly the README's `curl --data-binary @partial.png URL` (curl's default content
    type, application/x-www-form-urlencoded), or requests with that type if curl is missing."""
    curl = shutil.which("curl")
    if curl:
        args = [curl, "-sS", "-o", "-", "-w", "\n%{http_code}", "--data-binary", f"@{png_path}", url]
        for h in extra_headers:
            args[1:1] = ["-H", h]
        out = subprocess.run(args, capture_output=True, timeout=60, check=True).stdout.decode()
        body, _, status = out.rpartition("\n")
        return int(status), body
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    for h in extra_headers:
        k, _, v = h.partition(": ")
        headers[k] = v
    r = requests.post(url, data=open(png_path, "rb").read(), headers=headers, timeout=60)
    return r.status_code, r.text


def copy_example(name, tmp_path):
    src = EXAMPLES / name
    if not src.exists():
        pytest.skip(f"examples/{name} does not exist")
    dst = tmp_path / name
    shutil.copytree(src, dst)
    return dst


def require_manifest(d):
    assert (d / "swell.yaml").exists(), f"examples/{d.name} has no swell.yaml, so `swell deploy examples/{d.name}` cannot work"


def deployed_functions(swell, ns="default"):
    return {f["name"]: f for f in swell.api("GET", f"/v1/namespaces/{ns}/functions").json()["functions"]}


def test_homework_example(swell, tmp_path):
    d = copy_example("homework", tmp_path)
    require_manifest(d)
    res = swell.cli("deploy", str(d)).ok()
    assert "grade" in res.stdout, res
    res = swell.cli("invoke", "grade", "--data", '{"sample":"complete.png"}').ok()
    body = json.loads(res.stdout)
    assert body["verdict"] == "complete", body
    assert body["answeredRegions"] == body["totalRegions"] == 3
    png = (EXAMPLES / "homework" / "grader" / "samples" / "partial.png").read_bytes()
    # curl -H "content-type: image/png" --data-binary @partial.png $SWELL_URL/fn/default/grade
    headers = {"Content-Type": "image/png"}
    fn = deployed_functions(swell)["grade"]
    if fn.get("url") and fn["url"].get("auth") == "key":
        headers["Authorization"] = f"Bearer {swell.key}"
    r = requests.post(f"{swell.url}/fn/default/grade", data=png, headers=headers, timeout=60)
    assert r.status_code == 200, r.text
    assert function_error(r) is None
    assert r.json()["verdict"] == "partial", r.json()
    # Other samples through the invoke API.
    assert swell.invoke_ok("grade", {"sample": "blank.png"})["verdict"] == "blank"
    assert swell.invoke_ok("grade", {"sample": "complete-noisy.png"})["verdict"] == "complete"
    # The README's curl command.
    auth = [f"Authorization: {headers['Authorization']}"] if "Authorization" in headers else []
    status, text = curl_post_png(f"{swell.url}/fn/default/grade",
                                 EXAMPLES / "homework" / "grader" / "samples" / "partial.png", auth)
    assert status == 200, text
    assert json.loads(text)["verdict"] == "partial", text
    # A bad request is a 400 from the function, not a crash.
    r = requests.post(f"{swell.url}/fn/default/grade", data=b"not a png", headers=headers, timeout=60)
    assert r.status_code == 400, r.text


def test_homework_example_via_serve_flag(make_server, tmp_path):
    """`swell serve --example homework` deploys it on start."""
    if not (EXAMPLES / "homework" / "swell.yaml").exists():
        pytest.fail("examples/homework/swell.yaml is missing")
    srv = make_server(tmp_path / "exdata", extra_args=["--example", str(EXAMPLES / "homework")])
    c = srv.client()
    assert c.invoke_ok("grade", {"sample": "partial.png"})["verdict"] == "partial"


@pytest.mark.parametrize("example", ["hello-python", "custom-runtime"])
def test_small_examples(swell, tmp_path, example):
    d = copy_example(example, tmp_path)
    require_manifest(d)
    res = swell.cli("deploy", str(d)).ok()
    names = [line.split()[1] for line in res.stdout.splitlines() if line.split()[:1] in (["created"], ["updated"], ["unchanged"])]
    assert names, res
    for name in names:
        r = swell.invoke(name, {"name": "e2e"})
        assert r.status_code == 200, r.text
        assert function_error(r) is None, r.text
        assert r.content.strip(), "empty answer"


def test_homework_grader_code_on_swell(swell, tmp_path):
    """The grader's code itself, deployed with a manifest written here (independent of
    whether examples/homework ships its own swell.yaml)."""
    grader = EXAMPLES / "homework" / "grader"
    if not grader.exists():
        pytest.skip("examples/homework/grader does not exist")
    from swell_e2e import write_app
    name = "grade-e2e"
    app = write_app(tmp_path / "hw", {name: {"runtime": "nodejs20", "handler": "index.handler", "code": str(grader),
                                             "memory": 512, "timeout": 10, "url": {"auth": "none"}}})
    res = swell.cli("deploy", str(app)).ok()
    assert name in res.stdout
    res = swell.cli("invoke", name, "--data", '{"sample":"complete.png"}').ok()
    assert json.loads(res.stdout)["verdict"] == "complete", res
    png = (grader / "samples" / "partial.png").read_bytes()
    r = requests.post(f"{swell.url}/fn/default/{name}", data=png, headers={"Content-Type": "image/png"}, timeout=60)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["verdict"] == "partial", body
    assert [g["answered"] for g in body["regions"]] == [True, False, True], body
    status, text = curl_post_png(f"{swell.url}/fn/default/{name}", grader / "samples" / "partial.png")
    assert status == 200, text
    assert json.loads(text)["verdict"] == "partial", text
    r = requests.get(f"{swell.url}/fn/default/{name}?sample=blank.png", timeout=60)
    assert r.status_code == 200 and r.json()["verdict"] == "blank", r.text
    # A PNG sent with a text content type: graded (bytes kept) or a 400 explaining the mix-up, never a 5xx.
    r = requests.post(f"{swell.url}/fn/default/{name}", data=png, headers={"Content-Type": "text/plain"}, timeout=60)
    assert (r.status_code == 200 and r.json()["verdict"] == "partial") or r.status_code == 400, r.text
    assert swell.invoke_ok(name, {"image": base64.b64encode(png).decode()})["verdict"] == "partial"
    bad = swell.invoke(name, {"sample": "../index.js"})
    assert bad.headers.get("X-Swell-Function-Error") == "Unhandled", bad.text
    assert bad.json()["errorType"] == "InvalidRequest"

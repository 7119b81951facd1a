"""Log attribution under concurrency, --log-tail, and `swell logs --follow`."""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from swell_e2e import LineReader, function_error, node_fn, python_fn

NODE_LOGGER = r"""
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
exports.handler = async (event) => {
  for (let i = 0; i < 5; i++) {
    console.log(`tag=${event.tag} line=${i}`);
    await sleep(3 + Math.floor(Math.random() * 15));
  }
  return { tag: event.tag };
};
"""

PY_LOGGER = r"""
import random, time

def handler(event, context):
    for i in range(5):
        print(f"tag={event['tag']} line={i}")
        time.sleep(0.003 + random.random() * 0.015)
    return {"tag": event["tag"]}
"""

TAG_RE = re.compile(r"tag=(\S+) line=(\d)")


def fire_concurrently(swell, name, n):
    tags = [f"t{i}-{uuid.uuid4().hex[:6]}" for i in range(n)]

    def one(tag):
        r = swell.invoke(name, {"tag": tag}, timeout=60)
        assert r.status_code == 200 and function_error(r) is None, r.text
        assert r.json() == {"tag": tag}
        return tag, r.headers["X-Swell-Request-Id"]

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, tags))


def check_attribution(swell, name, pairs):
    for tag, rid in pairs:
        lines = swell.wait_logs(name, rid, lambda ls: sum(1 for l in ls if TAG_RE.search(l["message"])) >= 5)
        user = [l for l in lines if l["stream"] != "platform"]
        assert all(l["requestId"] == rid for l in lines), lines
        tagged = [TAG_RE.search(l["message"]) for l in user]
        assert all(tagged), f"line without a tag under {rid}: {[l['message'] for l in user]}"
        assert {m.group(1) for m in tagged} == {tag}, f"{rid} ({tag}) got lines of other invocations: {[l['message'] for l in user]}"
        assert sorted(int(m.group(2)) for m in tagged) == [0, 1, 2, 3, 4], [l["message"] for l in user]
        assert [int(m.group(2)) for m in tagged] == [0, 1, 2, 3, 4], "lines out of order"
        assert all(l["stream"] == "stdout" for l in user), user


def test_node_concurrent_log_attribution(swell, app_dir, unique):
    name = unique("logs-node")
    swell.deploy(app_dir, {name: node_fn(NODE_LOGGER, concurrency=8, timeout=10)})
    swell.invoke_ok(name, {"tag": "warmup"})  # one instance up, so the 8 share it
    pairs = fire_concurrently(swell, name, 8)
    check_attribution(swell, name, pairs)
    # The CLI filter by request id shows exactly that invocation's lines.
    tag, rid = pairs[3]
    out = swell.cli("logs", name, "--request-id", rid).ok().stdout
    found = TAG_RE.findall(out)
    assert {t for t, _ in found} == {tag}, out
    assert len(found) == 5, out


def test_python_concurrent_log_attribution(swell, app_dir, unique):
    name = unique("logs-py")
    swell.deploy(app_dir, {name: python_fn(PY_LOGGER, concurrency=4, timeout=10)})
    swell.invoke_ok(name, {"tag": "warmup"})
    pairs = fire_concurrently(swell, name, 4)
    check_attribution(swell, name, pairs)


def test_log_tail(swell, app_dir, unique):
    name = unique("logs-tail")
    swell.deploy(app_dir, {name: node_fn(NODE_LOGGER)})
    res = swell.cli("invoke", name, "--data", '{"tag": "tailme"}', "--log-tail").ok()
    assert json.loads(res.stdout) == {"tag": "tailme"}
    assert [int(n) for t, n in TAG_RE.findall(res.stderr) if t == "tailme"] == [0, 1, 2, 3, 4], res
    # Over the API: base64 of the log text in X-Swell-Log-Result.
    r = swell.invoke(name, {"tag": "apitail"}, headers={"X-Swell-Log-Type": "Tail"})
    text = base64.b64decode(r.headers["X-Swell-Log-Result"]).decode()
    assert [int(n) for t, n in TAG_RE.findall(text) if t == "apitail"] == [0, 1, 2, 3, 4], text
    assert "tailme" not in text
    # Without Tail no log header.
    r = swell.invoke(name, {"tag": "notail"})
    assert "X-Swell-Log-Result" not in r.headers


def test_log_tail_python(swell, app_dir, unique):
    name = unique("logs-tail-py")
    swell.deploy(app_dir, {name: python_fn(PY_LOGGER)})
    res = swell.cli("invoke", name, "--data", '{"tag": "pytail"}', "--log-tail").ok()
    assert [int(n) for t, n in TAG_RE.findall(res.stderr) if t == "pytail"] == [0, 1, 2, 3, 4], res


def test_logs_follow(swell, app_dir, unique):
    name = unique("logs-follow")
    swell.deploy(app_dir, {name: node_fn(NODE_LOGGER)})
    swell.invoke_ok(name, {"tag": "before-follow"})
    proc = swell.popen_cli("logs", name, "--follow")
    try:
        reader = LineReader(proc.stdout)
        # The existing lines are printed first.
        assert reader.wait_for("before-follow", timeout=15), reader.lines
        time.sleep(0.5)  # it is now long-polling
        marker = f"after-{uuid.uuid4().hex[:8]}"
        swell.invoke_ok(name, {"tag": marker})
        line = reader.wait_for(f"tag={marker} line=4", timeout=15)
        assert line, f"--follow did not print the new lines; got {reader.lines}"
        assert proc.poll() is None, "swell logs --follow exited"
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_logs_api_paging_and_wait(swell, app_dir, unique):
    name = unique("logs-api")
    swell.deploy(app_dir, {name: node_fn(NODE_LOGGER)})
    r = swell.invoke(name, {"tag": "page"})
    swell.wait_logs(name, r.headers["X-Swell-Request-Id"], lambda ls: len(ls) >= 5)
    page = swell.logs(name, limit=2)
    assert len(page["lines"]) == 2
    first = page["lines"][0]
    for k in ("id", "time", "requestId", "stream", "instance", "version", "message"):
        assert k in first, first
    assert first["version"] == "$LATEST"
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["time"]), first["time"]
    nxt = swell.logs(name, after=page["next"], limit=1000)
    assert all(l["id"] > page["next"] for l in nxt["lines"])
    # wait long-polls until a line after `after` exists.
    t0 = time.monotonic()
    empty = swell.logs(name, after=nxt["next"], wait=1)
    assert empty["lines"] == [] and 0.8 <= time.monotonic() - t0 <= 5


def test_log_tail_is_last_4kb(swell, app_dir, unique):
    name = unique("logs-4k")
    swell.deploy(app_dir, {name: node_fn(
        "exports.handler = async () => { for (let i = 0; i < 200; i++) console.log('line-' + i + ' ' + 'p'.repeat(80)); return 1; };")})
    r = swell.invoke(name, {}, headers={"X-Swell-Log-Type": "Tail"})
    raw = base64.b64decode(r.headers["X-Swell-Log-Result"])
    assert 3000 < len(raw) <= 4096, len(raw)
    assert "line-199 " in raw.decode(errors="replace")
    assert "line-0 " not in raw.decode(errors="replace")

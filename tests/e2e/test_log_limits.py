"""Logs at volume: a tenant's log flood costs only that tenant (rate limit, bounded memory,
bounded database), drops are counted and visible to it, a chatty function cannot evict a
quiet one's lines, `swell logs` stays fast, and --log-tail returns whole lines."""

from __future__ import annotations

import base64
import os
import threading
import time
import uuid

from swell_e2e import node_fn

LOG_DB_MAX_MB = 6

FLOOD = r"""
const { once } = require("events");
exports.handler = async (event) => {
  const line = "f".repeat(16 * 1024 - 40);
  const end = Date.now() + event.seconds * 1000;
  let n = 0;
  while (Date.now() < end) {
    console.log(`flood ${n++} ${line}`);
    // Node buffers pipe writes in its own memory: wait for them so the flood measures the
    // server, not the function's own memory limit.
    if (process.stdout.writableLength > (1 << 20)) await once(process.stdout, "drain");
  }
  return { n };
};
"""

VICTIM = r"""
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
exports.handler = async (event) => {
  for (let i = 0; i < event.count; i++) {
    console.log(`${event.tag} seq=${i}`);
    if (i % 10 === 9) await sleep(20);
  }
  return { done: event.count };
};
"""

CHATTY = r"""
exports.handler = async (event) => {
  for (let i = 0; i < event.lines; i++) {
    console.log(`chatty line ${i} of ${event.lines}`);
    // Let stdout drain now and then: a tight loop only piles the lines up in Node's memory.
    if (i % 1000 === 999) await new Promise((r) => setImmediate(r));
  }
  return { n: event.lines };
};
"""


def newest_output(lines):
    """The function's own lines, without Swell's platform notes (a drop count may come last)."""
    return [l for l in lines if l.get("stream") != "platform" and not l["message"].startswith("swell: ")]

QUIET = r"""
exports.handler = async (event) => {
  for (let i = 0; i < 100; i++) console.log(`${event.tag} quiet=${i}`);
  return {};
};
"""

TAILER = r"""
exports.handler = async (event) => {
  for (let i = 0; i < 300; i++) console.log(`tail line ${i} ` + "t".repeat(40));
  return {};
};
"""


LONG_LINES = r"""
exports.handler = async () => {
  process.stdout.write("start\n");
  // 1 MB without a newline, written in pieces, then the rest of the line and a normal one.
  for (let i = 0; i < 64; i++) process.stdout.write("L".repeat(16 * 1024));
  process.stdout.write("END-OF-LONG\n");
  console.log("exactly " + "x".repeat(16 * 1024 - 8));
  console.log("after");
  return {};
};
"""


def rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def db_bytes(data_dir) -> int:
    total = 0
    for suffix in ("", "-wal"):
        p = f"{data_dir}/logs.db{suffix}"
        if os.path.exists(p):
            total += os.path.getsize(p)
    return total


def all_lines(client, name, ns):
    lines, after = [], 0
    while True:
        page = client.logs(name, ns=ns, after=after, limit=10000)
        lines += page["lines"]
        if len(page["lines"]) < 10000:
            return lines, page
        after = page["next"]


def dev_client(swell, ns):
    r = swell.api("POST", f"/v1/namespaces/{ns}/keys", json_body={"role": "developer", "name": "e2e"})
    assert r.status_code == 201, r.text
    return swell.with_key(r.json()["key"])


def test_a_log_flood_costs_only_its_namespace(make_server, tmp_path):
    srv = make_server(extra_args=[
        "--log-rate", "256", "--log-db-max-mb", str(LOG_DB_MAX_MB), "--log-namespace-max-mb", "16",
        "--log-lines-rate", "50000"])
    swell = srv.client()
    ns_a, ns_b = f"flood-{uuid.uuid4().hex[:6]}", f"victim-{uuid.uuid4().hex[:6]}"
    swell.deploy(tmp_path / "a", {"flood": node_fn(FLOOD, timeout=60)}, namespace=ns_a)
    swell.deploy(tmp_path / "b", {"victim": node_fn(VICTIM, timeout=60)}, namespace=ns_b)

    samples = {"rss": 0.0, "db": 0}
    stop = threading.Event()

    def sample():
        while not stop.is_set() and srv.alive():
            try:
                samples["rss"] = max(samples["rss"], rss_mb(srv.pid))
                samples["db"] = max(samples["db"], db_bytes(srv.data_dir))
            except (OSError, AssertionError):
                return
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    flood_result = {}
    flooder = threading.Thread(target=lambda: flood_result.update(
        swell.invoke_ok("flood", {"seconds": 8}, ns=ns_a, timeout=90)))
    flooder.start()
    time.sleep(1.0)
    tag = f"v{uuid.uuid4().hex[:6]}"
    victim_rid = swell.invoke("victim", {"tag": tag, "count": 500}, ns=ns_b, timeout=60).headers["X-Swell-Request-Id"]
    flooder.join(timeout=120)
    assert flood_result.get("n", 0) > 1000, f"the flood wrote too little to test anything: {flood_result}"
    time.sleep(3.0)  # the writer flushes, retention runs (every 2 s)
    stop.set()
    sampler.join()

    # The victim's lines are all there, in order.
    lines, _ = all_lines(swell, "victim", ns_b)
    seqs = [int(l["message"].split("seq=")[1]) for l in lines if tag in l["message"]]
    assert seqs == list(range(500)), f"victim lost lines: {len(seqs)} of 500"
    assert all(l["requestId"] == victim_rid for l in lines if tag in l["message"])
    assert swell.logs("victim", ns=ns_b)["dropped"]["rateLimitedLines"] == 0

    # Bounded memory and database.
    assert samples["rss"] < 256, f"server RSS reached {samples['rss']:.0f} MB"
    final_db = db_bytes(srv.data_dir)
    assert final_db <= LOG_DB_MAX_MB << 20, f"logs.db is {final_db} bytes"
    assert samples["db"] <= LOG_DB_MAX_MB << 20, f"logs.db reached {samples['db']} bytes during the flood"
    print(f"\nflood: {flood_result['n']} lines of 16 KB; max RSS {samples['rss']:.0f} MB; "
          f"max logs.db {samples['db'] / 1048576:.1f} MB, final {final_db / 1048576:.1f} MB")

    # Namespace A sees what was dropped: in the API and as a platform line in its log.
    a = dev_client(swell, ns_a)
    page = a.logs("flood", ns=ns_a, newest="true", limit=100)
    dropped = page["dropped"]
    assert dropped["rateLimitedLines"] > 0 and dropped["rateLimitedBytes"] > 16_000 * dropped["rateLimitedLines"], dropped
    platform = [l for l in a.logs("flood", ns=ns_a, newest="true", limit=10000)["lines"] if l["stream"] == "platform"]
    assert any("dropped (log rate limit of the namespace)" in l["message"] for l in platform), platform[-3:]
    # Stored lines were capped at 256 KB/s (+ the burst and the reserved rate) for ~8 s.
    stored, _ = all_lines(a, "flood", ns_a)
    stored_bytes = sum(len(l["message"]) for l in stored)
    assert stored_bytes < (256 + 64) * 1024 * 8 + (256 + 64) * 1024 * 5 + (1 << 20), stored_bytes
    # Another namespace's key cannot read them.
    b = dev_client(swell, ns_b)
    assert b.api("GET", f"/v1/namespaces/{ns_a}/functions/flood/logs").status_code == 403

    # `swell logs` on the flooded function: the API answers fast, the CLI prints the drop note.
    t0 = time.monotonic()
    page = a.logs("flood", ns=ns_a, newest="true", limit=100)
    api_s = time.monotonic() - t0
    assert len(page["lines"]) == 100
    t0 = time.monotonic()
    res = a.cli("logs", "flood", "--namespace", ns_a).ok()
    cli_s = time.monotonic() - t0
    print(f"swell logs flood: API {api_s * 1000:.0f} ms, CLI {cli_s * 1000:.0f} ms")
    assert api_s < 0.2, api_s
    assert cli_s < 1.0, cli_s
    assert "dropped by the namespace's log rate limit" in res.stderr, res


def test_a_chatty_function_leaves_the_quiet_one_intact(make_server, tmp_path):
    srv = make_server(extra_args=["--log-lines-rate", "1000000", "--log-rate", "1000000", "--log-namespace-max-mb", "6"])
    swell = srv.client()
    swell.deploy(tmp_path / "app", {
        "chatty": node_fn(CHATTY, timeout=120, memory=512), "quiet": node_fn(QUIET, timeout=10)})
    swell.invoke_ok("quiet", {"tag": "before"})
    assert swell.invoke_ok("chatty", {"lines": 200_000}, timeout=180) == {"n": 200_000}
    swell.invoke_ok("quiet", {"tag": "after"})

    # The writer catches up (every line is stored behind the requests), and retention
    # (every 2 s) brings the namespace under 6 MB at the chatty function's expense only. The
    # queue to the database is bounded: when the function outruns the writer, what does not fit
    # is dropped and counted (queueFullLines), never lost silently.
    last_line = "chatty line 199999 of 200000"
    deadline = time.monotonic() + 90
    newest, settled = None, time.monotonic()
    while True:
        usage = swell.logs("chatty", newest="true", limit=5)
        quiet, _ = all_lines(swell, "quiet", "default")
        out = newest_output(usage["lines"])
        seen = out[-1]["message"] if out else None
        if seen != newest:
            newest, settled = seen, time.monotonic()
        caught_up = newest == last_line or (usage["dropped"]["queueFullLines"] > 0 and time.monotonic() - settled > 3)
        done = caught_up and usage["dropped"]["prunedLines"] > 0 and len(quiet) >= 200
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if usage["dropped"]["queueFullLines"] == 0:
        assert newest == last_line, (newest, usage["dropped"])
    assert usage["dropped"]["prunedLines"] > 0, usage["dropped"]
    for tag in ("before", "after"):
        got = [int(l["message"].split("quiet=")[1]) for l in quiet if l["message"].startswith(f"{tag} quiet=")]
        assert got == list(range(100)), f"quiet lost its '{tag}' lines: {len(got)} of 100"
    assert swell.logs("quiet")["dropped"]["prunedLines"] == 0

    # The newest chatty lines are the ones kept, and reading them stays fast.
    t0 = time.monotonic()
    page = swell.logs("chatty", newest="true", limit=100)
    elapsed = time.monotonic() - t0
    assert newest_output(page["lines"])[-1]["message"] == newest
    assert elapsed < 0.2, elapsed
    res = swell.cli("logs", "chatty", "--limit", "5").ok()
    assert any(l.endswith(newest) for l in res.stdout.strip().splitlines()), res
    assert "removed by retention" in res.stderr, res


def test_log_tail_returns_whole_lines_and_says_when_it_cut(server, app_dir, unique):
    swell = server.client()
    name = unique("tailcut")
    swell.deploy(app_dir, {name: node_fn(TAILER)})
    r = swell.invoke(name, {}, headers={"X-Swell-Log-Type": "Tail"})
    text = base64.b64decode(r.headers["X-Swell-Log-Result"]).decode()
    assert len(text.encode()) <= 4096
    lines = text.rstrip("\n").split("\n")
    assert lines[0].startswith("swell: log tail cut: "), lines[0]
    omitted = int(lines[0].split("cut: ")[1].split(" ")[0])
    body = lines[1:]
    assert all(l.startswith("tail line ") and l.endswith("t" * 40) for l in body), body[:3]
    assert body[-1].startswith("tail line 299 ")
    assert omitted + len(body) == 300
    res = swell.cli("invoke", name, "--log-tail").ok()
    assert "log tail cut" in res.stderr and "tail line 299 " in res.stderr, res


def test_long_lines_are_cut_and_counted_and_the_next_line_is_intact(server, app_dir, unique):
    swell = server.client()
    name = unique("longline")
    swell.deploy(app_dir, {name: node_fn(LONG_LINES)})
    rid = swell.invoke(name, {}).headers["X-Swell-Request-Id"]
    lines = swell.wait_logs(name, rid, lambda ls: any(l["message"] == "after" for l in ls))
    messages = [l["message"] for l in lines if l["stream"] != "platform"]
    assert messages[0] == "start" and messages[-1] == "after", [m[:40] for m in messages]
    cut = [m for m in messages if m.startswith("LLLL")]
    assert len(cut) == 1, [m[:40] for m in messages]
    assert cut[0].endswith("[swell: line cut at 16384 bytes]") and len(cut[0].encode()) < 16384 + 64
    assert not any("END-OF-LONG" in m for m in messages), "the rest of the cut line was stored as a line of its own"
    # A line of exactly 16 KiB is not cut.
    assert "exactly " + "x" * (16 * 1024 - 8) in messages
    assert swell.logs(name)["dropped"]["cutLines"] == 1

"""GPU shares: a node declares GPUs (`--gpu INDEX:MIB,...`, no real GPU needed: Swell only
accounts for their memory), a function asks for a share (`gpu: {memory: MIB}`), and each
instance is placed on one GPU by best fit, sees it in CUDA_VISIBLE_DEVICES with its share in
SWELL_GPU_MEMORY_MB, and waits when no GPU has room; idle holders are evicted for room."""

from __future__ import annotations

import subprocess
import threading
import time

from swell_e2e import SWELL_BIN, node_fn

REPORT = r"""
exports.handler = async (event) => {
  const start = Date.now();
  if (event.sleep) await new Promise((resolve) => setTimeout(resolve, event.sleep));
  return { cuda: process.env.CUDA_VISIBLE_DEVICES === undefined ? null : process.env.CUDA_VISIBLE_DEVICES,
           share: process.env.SWELL_GPU_MEMORY_MB === undefined ? null : process.env.SWELL_GPU_MEMORY_MB,
           pid: process.pid, start, end: Date.now() };
};
"""


def instances(swell, name: str) -> list[dict]:
    r = swell.api("GET", f"/v1/namespaces/default/functions/{name}/instances")
    assert r.status_code == 200, r.text
    return r.json()["instances"]


def parallel(swell, name: str, events: list[dict]) -> list[dict]:
    out: list = [None] * len(events)

    def call(i):
        out[i] = swell.invoke_ok(name, events[i], timeout=60)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(events))]
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join(timeout=60)
    assert all(o is not None for o in out), out
    return out


def test_instances_are_packed_onto_declared_gpus_and_queue_when_none_has_room(make_server, app_dir, unique):
    server = make_server(extra_args=["--gpu", "0:8192,1:8192"])
    swell = server.client()
    big, small, plain = unique("gpu-big"), unique("gpu-small"), unique("gpu-none")
    swell.deploy(app_dir, {
        big: node_fn(REPORT, gpu={"memory": 6000}, scaling={"keepAlive": 300}),
        small: node_fn(REPORT, gpu={"memory": 4000}, scaling={"keepAlive": 300}),
        plain: node_fn(REPORT),
    })
    r = swell.api("GET", f"/v1/namespaces/default/functions/{big}")
    assert r.status_code == 200 and r.json()["function"]["gpu"] == {"memory": 6000}, r.text
    assert "gpu" not in swell.api("GET", f"/v1/namespaces/default/functions/{plain}").json()["function"]

    # Three 2-second requests, one per instance (concurrency 1): 6000 MiB fits once per GPU,
    # so two run at once, on GPUs 0 and 1, and the third waits for one of them.
    runs = parallel(swell, big, [{"sleep": 2000}] * 3)
    assert all(o["share"] == "6000" for o in runs), runs
    runs.sort(key=lambda o: o["start"])
    assert {runs[0]["cuda"], runs[1]["cuda"]} == {"0", "1"}, runs
    assert runs[2]["start"] >= min(runs[0]["end"], runs[1]["end"]) - 5, f"the third ran before a GPU had room: {runs}"
    assert runs[2]["pid"] in {runs[0]["pid"], runs[1]["pid"]}, "a third instance started with no GPU room"
    assert len(instances(swell, big)) == 2

    # Both GPUs hold 6000 of 8192 (idle now): a 4000 share fits on neither, so the least
    # recently used idle holder is evicted and the new instance takes its GPU.
    older = runs[0] if runs[0]["end"] <= runs[1]["end"] else runs[1]
    got = swell.invoke_ok(small, {})
    assert got["share"] == "4000" and got["cuda"] in {"0", "1"}, got
    deadline = time.monotonic() + 10
    while len(instances(swell, big)) != 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(instances(swell, big)) == 1, "no idle GPU holder was evicted"
    survivor = swell.invoke_ok(big, {})
    assert survivor["cuda"] != got["cuda"], (survivor, got, older)

    # A function without a share sees no GPU.
    p = swell.invoke_ok(plain, {})
    assert p["cuda"] is None and p["share"] is None, p


def test_gpu_shares_and_flags_are_validated_naming_the_field(make_server, app_dir, unique, tmp_path):
    server = make_server(extra_args=["--gpu", "0:1024"])
    swell = server.client()
    name = unique("gpu-bad")
    res = swell.deploy(app_dir, {name: node_fn(REPORT, gpu={"memory": 0})}, check=False)
    assert res.code != 0 and f"functions.{name}.gpu.memory" in res.stdout + res.stderr, res
    res = swell.deploy(app_dir, {name: node_fn(REPORT, gpu={"memory": 512, "cores": 2})}, check=False)
    assert res.code != 0 and f"functions.{name}.gpu.cores" in res.stdout + res.stderr, res
    r = swell.api("PUT", f"/v1/namespaces/default/functions/{name}", json_body={
        "runtime": "nodejs20", "handler": "index.handler", "codeSha256": "0" * 64, "gpu": {"memory": -1}})
    assert r.status_code == 400 and "gpu.memory" in r.text, r.text
    for bad in ["0", "0:0", "a:1", "0:1,0:2"]:
        p = subprocess.run([SWELL_BIN, "serve", "--data-dir", str(tmp_path / "never"), "--gpu", bad],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode != 0 and "--gpu" in p.stderr, (bad, p.returncode, p.stderr[-500:])

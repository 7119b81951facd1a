"""Density: idle warm instances per GiB, and the server's memory with 1,000 functions deployed.

    python3 bench/density.py [--instances 50] [--functions 1000] [--quick] [--skip-invoke]

(a) For Node.js and Python: N raw runtime processes idling (`node -e "setInterval(()=>{},1e9)"`,
`python3 -c "import time; time.sleep(1e9)"`) are measured first (PSS and RSS from
/proc/PID/smaps_rollup), then stopped. Then a `swell serve` gets N instances of a hello
function (`concurrency: 1`) by N concurrent requests that sleep 1 s, and, once they are idle,
the same is measured over its instance processes (the PIDs `GET …/instances` names, or
without that route the server's children working in a code package; pre-booted warm-pool
processes are not counted). Instances per GiB = N / (sum of PSS);
ratio = PSS per Swell instance / PSS per raw process. PSS shares the pages of a binary
among the processes mapping it, so both sides are measured with N processes alive.

(b) The RSS of `swell serve` (the server process alone) on a fresh data directory, then after
`swell deploy` of one manifest with M functions sharing one code directory; bytes per
function. Unless --skip-invoke, 100 of them are then invoked once each and, after they have
scaled to zero (keep-alive 5 s when the manifest takes `scaling`, else the default 60 s),
the RSS again.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import subprocess
import time

from common import (NODE_BIN, Server, deploy_manifest, instance_pids, instances_endpoint, loadgen, machine, memory_kib, status_kib,
                    summary, try_deploy)

NODE = """exports.handler = async (event) => {
  if (event.sleepMs) await new Promise((resolve) => setTimeout(resolve, event.sleepMs));
  return { hello: 'world' };
};
"""
PYTHON = """import time

def handler(event, context):
    if event.get('sleepMs'):
        time.sleep(event['sleepMs'] / 1000)
    return {'hello': 'world'}
"""
RAW = {
    "node": [NODE_BIN, "-e", "setInterval(()=>{},1e9)"],
    "python": ["/usr/bin/python3", "-c", "import time; time.sleep(1e9)"],
}
GIB_KIB = 2**20


def raw_memory(cmd: list[str], n: int) -> dict:
    procs = [subprocess.Popen(cmd) for _ in range(n)]
    try:
        time.sleep(1.5)
        mems = [memory_kib(p.pid) for p in procs]
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
    return {"n": n, "pssKiB": sum(m["pss"] for m in mems), "rssKiB": sum(m["rss"] for m in mems)}


def swell_instances(server: Server, name: str, n: int) -> dict:
    before = set(instance_pids(server))
    url = f"{server.url}/v1/namespaces/default/functions/{name}/invoke"
    r = loadgen({"url": url, "total": n, "concurrency": n, "headers": server.headers, "body": '{"sleepMs": 1000}',
                 "capture": ["x-swell-function-error"]})
    if r["status"].get("200", 0) != n or r["lost"]:
        raise SystemExit(f"{name}: not every request was answered: {r['status']} lost {r['lost']} {r['lostMessages']}")
    time.sleep(1.5)  # idle now; the runtime has settled
    listed = instances_endpoint(server, name)
    if listed is not None:  # the server names its instances' PIDs
        pids = [i["pid"] for i in listed if i.get("pid") and i["state"] != "stopping"]
    else:
        pids = [p for p in instance_pids(server) if p not in before]
    mems = [memory_kib(p) for p in pids]
    return {"n": len(pids), "pssKiB": sum(m.get("pss", 0) for m in mems), "rssKiB": sum(m.get("rss", 0) for m in mems)}


def server_kib(server: Server) -> dict:
    m = memory_kib(server.proc.pid)
    return {"rssKiB": m["rss"], "pssKiB": m.get("pss"), "hwmKiB": status_kib(server.proc.pid, "VmHWM")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--instances", type=int, default=50)
    ap.add_argument("--functions", type=int, default=1000)
    ap.add_argument("--skip-invoke", action="store_true", help="skip invoking 100 functions in part (b)")
    ap.add_argument("--quick", action="store_true", help="10 instances, 100 functions, no invokes")
    args = ap.parse_args()
    n = 10 if args.quick else args.instances
    m = 100 if args.quick else args.functions
    skip_invoke = args.skip_invoke or args.quick
    print(f"machine: {machine()}")

    # (a) idle instances
    raw = {rt: raw_memory(cmd, n) for rt, cmd in RAW.items()}
    server = Server()
    try:
        try_ok = [try_deploy(server, "dens-node", {"index.js": NODE}, runtime="nodejs20", handler="index.handler", timeout=10),
                  try_deploy(server, "dens-python", {"handler.py": PYTHON}, runtime="python3", handler="handler.handler", timeout=10)]
        for ok, err in try_ok:
            if not ok:
                raise SystemExit(f"deploy failed: {err}")
        swell = {"node": swell_instances(server, "dens-node", n), "python": swell_instances(server, "dens-python", n)}
    finally:
        server.stop()

    print(f"(a) {n} idle processes per runtime")
    print(f"{'':16}{'procs':>6}{'PSS MiB/proc':>14}{'RSS MiB/proc':>14}{'per GiB (PSS)':>15}{'ratio PSS':>11}")
    density = {}
    for rt in RAW:
        for label, r in ((f"raw {rt}", raw[rt]), (f"swell {rt}", swell[rt])):
            pss = r["pssKiB"] / max(1, r["n"])
            rss = r["rssKiB"] / max(1, r["n"])
            per_gib = r["n"] / (r["pssKiB"] / GIB_KIB) if r["pssKiB"] else float("nan")
            ratio = pss / (raw[rt]["pssKiB"] / raw[rt]["n"])
            print(f"{label:16}{r['n']:>6}{pss / 1024:>14.1f}{rss / 1024:>14.1f}{per_gib:>15.0f}{ratio:>10.2f}x")
        density[rt] = {
            "rawPssMiB": round(raw[rt]["pssKiB"] / raw[rt]["n"] / 1024, 1), "rawRssMiB": round(raw[rt]["rssKiB"] / raw[rt]["n"] / 1024, 1),
            "swellInstances": swell[rt]["n"],
            "swellPssMiB": round(swell[rt]["pssKiB"] / max(1, swell[rt]["n"]) / 1024, 1),
            "swellRssMiB": round(swell[rt]["rssKiB"] / max(1, swell[rt]["n"]) / 1024, 1),
            "instancesPerGiB": round(swell[rt]["n"] / (swell[rt]["pssKiB"] / GIB_KIB)) if swell[rt]["pssKiB"] else None,
            "rawPerGiB": round(raw[rt]["n"] / (raw[rt]["pssKiB"] / GIB_KIB)),
            "ratioPss": round((swell[rt]["pssKiB"] / max(1, swell[rt]["n"])) / (raw[rt]["pssKiB"] / raw[rt]["n"]), 2),
        }

    # (b) server memory with M functions
    server = Server()
    notes = []
    try:
        time.sleep(2)
        fresh = server_kib(server)
        app = server.dir / "apps" / "many"
        (app / "code").mkdir(parents=True)
        (app / "code" / "index.js").write_text(NODE)
        spec = {"code": "./code", "runtime": "nodejs20", "handler": "index.handler", "scaling": {"keepAlive": 5}}
        names = [f"f{i:04d}" for i in range(m)]
        t = time.perf_counter()
        r = deploy_manifest(server, app, {"functions": {name: spec for name in names}})
        keep_alive = 5
        if r.returncode != 0 and "scaling" in r.stderr:
            notes.append("manifest `scaling` not supported by this binary; default keep-alive 60 s")
            keep_alive = 60
            del spec["scaling"]
            t = time.perf_counter()
            r = deploy_manifest(server, app, {"functions": {name: spec for name in names}})
        deploy_s = time.perf_counter() - t
        if r.returncode != 0:
            raise SystemExit(f"deploy of {m} functions failed: {r.stderr.strip()[-1000:]}")
        listed = server_list_count(server)
        time.sleep(2)
        deployed = server_kib(server)
        invoked = None
        invoke_s = None
        if not skip_invoke:
            def call(name: str) -> int:
                return server.invoke(name).status_code

            t = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(4) as pool:
                statuses = list(pool.map(call, names[:100]))
            invoke_s = time.perf_counter() - t
            if statuses.count(200) != 100:
                notes.append(f"invokes not all 200: {sorted(set(statuses))}")
            deadline = time.monotonic() + keep_alive + 30
            time.sleep(keep_alive + 2)
            while instance_pids(server) and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(1)
            invoked = server_kib(server)
            invoked["instancesLeft"] = len(instance_pids(server))
    finally:
        server.stop()

    per_fn = (deployed["rssKiB"] - fresh["rssKiB"]) * 1024 / m
    print(f"(b) swell serve RSS: fresh {fresh['rssKiB'] / 1024:.1f} MiB; {listed} functions deployed "
          f"(deploy took {deploy_s:.1f} s) {deployed['rssKiB'] / 1024:.1f} MiB = {per_fn / 1024:.1f} KiB per function")
    if invoked:
        print(f"    after invoking 100 of them once ({invoke_s:.1f} s) and scale to zero "
              f"({invoked['instancesLeft']} instances left): {invoked['rssKiB'] / 1024:.1f} MiB "
              f"(peak RSS {invoked['hwmKiB'] / 1024:.1f} MiB)")
    for note in notes:
        print("note:", note)
    summary("density", {
        "instances": n, "density": density,
        "server": {"functions": m, "listed": listed, "deploySeconds": round(deploy_s, 2), "freshRssMiB": round(fresh["rssKiB"] / 1024, 1),
                   "deployedRssMiB": round(deployed["rssKiB"] / 1024, 1), "bytesPerFunction": round(per_fn),
                   "afterInvoke100RssMiB": round(invoked["rssKiB"] / 1024, 1) if invoked else None,
                   "afterInvoke100PeakRssMiB": round(invoked["hwmKiB"] / 1024, 1) if invoked else None,
                   "instancesLeft": invoked["instancesLeft"] if invoked else None},
        "notes": notes,
    })


def server_list_count(server: Server) -> int:
    import requests
    r = requests.get(f"{server.url}/v1/namespaces/default/functions", headers=server.headers)
    r.raise_for_status()
    body = r.json()
    return len(body.get("functions", body) if isinstance(body, dict) else body)


if __name__ == "__main__":
    main()

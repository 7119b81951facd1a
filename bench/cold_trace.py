"""Stages of one cold start, read from the kernel's syscall trace (`perf trace -a`).

Works with any `swell` binary (no instrumentation needed): the client marks each round with
a `read` of an impossible file descriptor (`MARK + 2 * round`, then `+ 1` at its end), and the
stages are the syscalls of the client, the server's threads and the pre-booted process that
took the function, in that window:

    client send → server reads the request → specialization line read by the bootstrap
    (`read` of fd 0; the server's part: route, pool, endpoint, temp directory, warm pool,
    cgroups, the line; `steps=` of its debug log splits it, see `server_steps`) → the
    bootstrap's `connect` → its first write on that socket (`GET next`) → the server's first
    write on the accepted socket (the event) → the bootstrap's next write there (the result's
    POST) → the server's answer to the client → the client's receive.

`perf trace` without BPF augmentation shows no paths, so `cgroup.procs` writes are found by
their shape: a 1-byte write ("0", a child joining before exec) or a pid-sized one from the
server, and their duration is reported (the kernel's cgroup lock can hold one for 10–40 ms).
Tracing costs a little per syscall; the stage split is the point, not the total.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import time
from pathlib import Path

MARK = 70000
SYSCALLS = "read,write,writev,readv,sendto,recvfrom,sendmsg,recvmsg,connect,accept4,bind,mkdir,mkdirat,setuid,clone,clone3,execve"
LINE = re.compile(r"^\s*([\d.]+) \(\s*([\d.]+) ms\): (.+?)/(\d+) (\w+)\((.*)\)\s+= (-?\w+)")
ENTRY = re.compile(r"^\s*([\d.]+) \(\s+\): (.+?)/(\d+) (\w+)\((.*)\)\s+\.\.\.\s*$")
CONTINUED = re.compile(r"^\s*[\d.?]+ \(\s*([\d.]+) ms\): (.+?)/(\d+)\s+\.\.\. \[continued\]: (\w+)\(\)\)\s+= (-?\w+)")

STAGES = [
    ("client send → server read", "c_send", "s_read"),
    ("server read → spec line read by the bootstrap", "s_read", "b_spec"),
    ("spec line → bootstrap connect", "b_spec", "b_connect"),
    ("connect → GET next written", "b_connect", "b_next"),
    ("GET next → event written by server", "b_next", "s_event"),
    ("event → result POST written", "s_event", "b_post"),
    ("POST → answer written to client", "b_post", "s_resp"),
    ("answer → client receive", "s_resp", "c_recv"),
    ("total (client send → receive)", "c_send", "c_recv"),
]


class Tracer:
    def __init__(self, path: Path):
        self.path = path
        self.proc = subprocess.Popen(["perf", "trace", "-a", "-e", SYSCALLS, "-o", str(path)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.5)
        self.rounds: list[dict] = []

    def mark(self, n: int) -> None:
        try:
            import os
            os.read(MARK + n, 1)
        except OSError:
            pass

    def begin(self, label: str, index: int, server_pid: int, client_pid: int) -> None:
        self.rounds.append({"label": label, "index": index, "server": server_pid, "client": client_pid,
                            "threads": set(tasks(server_pid))})
        self.mark(2 * len(self.rounds))

    def end(self) -> None:
        self.mark(2 * len(self.rounds) + 1)
        self.rounds[-1]["threads"] |= set(tasks(self.rounds[-1]["server"]))

    def stop(self) -> None:
        time.sleep(0.5)
        self.proc.send_signal(2)
        self.proc.wait(timeout=30)
        rounds = [dict(r, threads=sorted(r["threads"])) for r in self.rounds]
        self.path.with_suffix(".rounds.json").write_text(json.dumps(rounds))


def tasks(pid: int) -> list[int]:
    try:
        return [int(t.name) for t in Path(f"/proc/{pid}/task").iterdir()]
    except OSError:
        return []


def parse(path: Path) -> list[tuple]:
    """(start ms, duration ms, comm, tid, syscall, {arg: value}, return value), in file order.

    A syscall that blocks is printed twice: its entry (`name(args) ...`) and, when it returns,
    `... [continued]: name()) = value`; the two are joined here (the event sits where it ended).
    """
    events = []
    pending: dict[int, tuple] = {}
    for line in path.read_text(errors="replace").splitlines():
        m = ENTRY.match(line)
        if m:
            start, comm, tid, name, args = m.groups()
            pending[int(tid)] = (float(start), name, fields_of(args))
            continue
        m = CONTINUED.match(line)
        if m:
            dur, comm, tid, name, ret = m.groups()
            entry = pending.pop(int(tid), None)
            if entry is not None and entry[1] == name:
                events.append((entry[0], float(dur), comm, int(tid), name, entry[2], number(ret)))
            continue
        m = LINE.match(line)
        if m:
            start, dur, comm, tid, name, args, ret = m.groups()
            events.append((float(start), float(dur), comm, int(tid), name, fields_of(args), number(ret)))
    return events


def fields_of(args: str) -> dict[str, str]:
    return dict(re.findall(r"(\w+): (\S+?)(?:,|$)", args))  # perf leaves out arguments that are 0


def number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        return -1


def analyse(path: Path, rounds: list[dict]) -> dict[str, dict[str, list[float]]]:
    events = parse(path)
    marks = {}
    for i, e in enumerate(events):
        if e[4] == "read" and e[5].get("fd", "").isdigit() and int(e[5]["fd"]) >= MARK:
            marks[int(e[5]["fd"]) - MARK] = i
    by_label: dict[str, dict[str, list[float]]] = {}
    for n, rnd in enumerate(rounds, start=1):
        a, b = marks.get(2 * n), marks.get(2 * n + 1)
        if a is None or b is None:
            continue
        window = sorted(events[a + 1:b], key=lambda e: e[0] + e[1])  # by the time each returned
        t = stages(window, rnd)
        if t is None:
            continue
        slot = by_label.setdefault(rnd["label"], {})
        for name, x, y in STAGES:
            if x in t and y in t:
                slot.setdefault(name, []).append(t[y] - t[x])
        slot.setdefault("cgroup moves blocked ≥ 2 ms in the round (ms each)", []).extend(t["cg_writes"])
        slot.setdefault("· how many per round", []).append(len(t["cg_writes"]))
        if "s_clone" in t:
            slot.setdefault("refill fork after client send", []).append(t["s_clone"] - t["c_send"])
    return by_label


def stages(window: list[tuple], rnd: dict) -> dict | None:
    end = lambda e: e[0] + e[1]
    client, server = rnd["client"], rnd["threads"]
    t: dict = {"cg_writes": []}
    boot = None
    conn_fd = accept_fd = None
    mkdirs = 0
    for e in window:
        start, dur, comm, tid, name, f, ret = e
        if tid == client:
            if name in ("sendto", "sendmsg", "write") and "c_send" not in t:
                t["c_send"] = start
            elif name in ("recvfrom", "recvmsg", "read") and ret > 0 and "s_resp" in t and "c_recv" not in t:
                t["c_recv"] = end(e)
            continue
        if "c_send" not in t:
            continue
        in_server = tid in server
        # A cgroup move: a tiny write ("0" from a child before exec, or a pid) that blocks for
        # milliseconds (the kernel's wait for an RCU grace period under cgroup_mutex).
        if name == "write" and int(f.get("count", "0")) <= 8 and dur >= 2 and ret > 0 and not comm.startswith("NIO"):
            t["cg_writes"].append(dur)
        if in_server:
            if name in ("read", "readv", "recvmsg") and ret > 0 and "s_read" not in t:
                t["s_read"] = end(e)
            elif name == "bind" and "s_bind" not in t:
                t["s_bind"] = end(e)
            elif name in ("mkdir", "mkdirat") and "s_bind" in t:
                mkdirs += 1
                if mkdirs == 1:
                    t["s_mkdir"] = end(e)
            elif name == "accept4" and ret >= 0 and "b_connect" in t and accept_fd is None:
                accept_fd = ret
            elif name in ("write", "writev", "sendmsg") and accept_fd is not None and f.get("fd") == str(accept_fd) and "s_event" not in t:
                t["s_event"] = start
            elif name in ("write", "writev", "sendmsg") and "b_post" in t and "s_resp" not in t and f.get("fd") != str(accept_fd) and ret > 100:
                t["s_resp"] = start
            elif name in ("clone", "clone3") and "s_clone" not in t:
                t["s_clone"] = start
            continue
        if boot is None and name == "read" and f.get("fd", "0") == "0" and ret > 0 and comm in ("node", "python3"):
            boot = tid
            t["b_spec"] = end(e)
            continue
        if tid != boot:
            continue
        if name == "connect" and conn_fd is None:
            conn_fd = f.get("fd")
            t["b_connect"] = end(e)
        elif name in ("write", "writev", "sendto", "sendmsg") and conn_fd is not None and f.get("fd") == conn_fd:
            if "b_next" not in t:
                t["b_next"] = start
            elif "s_event" in t and "b_post" not in t:
                t["b_post"] = start
    return t if "c_recv" in t else None


def report(by_label: dict[str, dict[str, list[float]]]) -> str:
    labels = list(by_label)
    names = [s[0] for s in STAGES] + ["cgroup moves blocked ≥ 2 ms in the round (ms each)", "· how many per round", "refill fork after client send"]
    out = ["| stage (median ms) | " + " | ".join(labels) + " |", "| --- |" + " --- |" * len(labels)]
    for name in names:
        cells = []
        for label in labels:
            values = by_label[label].get(name, [])
            cells.append(f"{statistics.median(values):.2f} (n={len(values)})" if values else "–")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def server_steps(log: Path) -> str:
    """Medians of the steps a server logs with each "instance ready" line at debug level
    (`steps=launch=…us bound=…us …`, time since the cold start began; builds that log them)."""
    steps: dict[str, list[float]] = {}
    for line in log.read_text(errors="replace").splitlines():
        if "instance ready" in line and "steps=" in line:
            for name, us in re.findall(r"(\w+)=(\d+)us", line):
                steps.setdefault(name, []).append(int(us) / 1000)
    if not steps:
        return "(the server logged no steps of its starts)"
    return "server steps, ms since the cold start began (median, n): " + ", ".join(
        f"{name} {statistics.median(v):.2f} ({len(v)})" for name, v in steps.items())


def main() -> None:
    """Re-reads saved traces: `python3 bench/cold_trace.py TRACE.txt...` (each with its .rounds.json)."""
    import sys
    merged: dict[str, dict[str, list[float]]] = {}
    for arg in sys.argv[1:]:
        path = Path(arg)
        rounds = json.loads(path.with_suffix(".rounds.json").read_text())
        for r in rounds:
            r["threads"] = set(r["threads"])
        for label, stages_ in analyse(path, rounds).items():
            slot = merged.setdefault(f"{label} ({path.parent.name})", {})
            for name, values in stages_.items():
                slot.setdefault(name, []).extend(values)
    print(report(merged))


if __name__ == "__main__":
    main()

"""Tenant isolation on the file system, as an attacker would try it: each case is a hostile
package or function of one namespace against a real victim in another, and asserts both that
the attack fails and that the victim still answers with its own code.

Covers: link chains and other hostile tar and zip packages (refused with a 400 naming the
entry, nothing written outside), another namespace's code digest, reads of the data
directory, databases (with -wal) and another function's code and temp directory, uid
collisions, a squatted or stale /tmp/swell-run-* directory, rlimits of a pre-booted
instance, another namespace's task (404) and the last platform admin key."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import stat
import tarfile
import time
import uuid
import zipfile
from pathlib import Path

import pytest

from swell_e2e import node_fn, python_fn

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="functions get uids of their own only when Swell runs as root")

VICTIM_PY = """
import os
def handler(event, context):
    if event.get("secret"):
        with open(os.path.join(os.environ["TMPDIR"], "secret.txt"), "w") as f:
            f.write("victim-secret")
    return {"answer": "victim-ok", "root": os.environ["LAMBDA_TASK_ROOT"], "tmp": os.environ["TMPDIR"], "uid": os.getuid()}
"""

PROBE_PY = """
import errno, os
def handler(event, context):
    results, writes = {}, {}
    for path in event.get("read", []):
        try:
            if os.path.isdir(path):
                os.listdir(path)
            else:
                with open(path, "rb") as f:
                    f.read(1)
            results[path] = "read"
        except OSError as e:
            results[path] = errno.errorcode.get(e.errno, str(e.errno))
    for path in event.get("write", []):
        try:
            with open(path, "w") as f:
                f.write("pwned")
            writes[path] = "written"
        except OSError as e:
            writes[path] = errno.errorcode.get(e.errno, str(e.errno))
    return {"results": results, "writes": writes, "uid": os.getuid(), "root": os.environ["LAMBDA_TASK_ROOT"], "tmp": os.environ["TMPDIR"]}
"""


@pytest.fixture
def victim(swell, app_dir, unique):
    """A function in a namespace of its own; `check()` asserts it still answers with its own code."""
    ns, name = unique("victim"), unique("v")
    swell.deploy(app_dir / "victim", {name: python_fn(VICTIM_PY)}, namespace=ns)
    first = swell.invoke_ok(name, {"secret": True}, ns=ns)
    assert first["answer"] == "victim-ok"

    class Victim:
        namespace = ns
        function = name
        info = first
        sha = swell.api("GET", f"/v1/namespaces/{ns}/functions/{name}").json()["function"]["codeSha256"]

        @staticmethod
        def check(cold: bool = False):
            if cold:
                # A configuration change retires the instance: the next invoke loads the code afresh.
                spec = swell.api("GET", f"/v1/namespaces/{ns}/functions/{name}").json()["function"]
                r = swell.api("PUT", f"/v1/namespaces/{ns}/functions/{name}", json_body={
                    "runtime": spec["runtime"], "handler": spec["handler"], "codeSha256": spec["codeSha256"],
                    "memory": 256 if spec.get("memory") != 256 else 320})
                assert r.status_code in (200, 201), r.text
            out = swell.invoke_ok(name, {}, ns=ns)
            assert out["answer"] == "victim-ok", out

    return Victim


# ---- hostile packages ---------------------------------------------------------


def tar_bytes(members: list[tuple]) -> bytes:
    """members: ("file", name, data) | ("dir", name) | ("sym", name, target) | ("hard", name, target)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for m in members:
            info = tarfile.TarInfo(m[1])
            info.mtime = 0
            if m[0] == "file":
                info.size = len(m[2])
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(m[2]))
            elif m[0] == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            elif m[0] == "sym":
                info.type = tarfile.SYMTYPE
                info.linkname = m[2]
                tar.addfile(info)
            elif m[0] == "hard":
                info.type = tarfile.LNKTYPE
                info.linkname = m[2]
                tar.addfile(info)
    return buf.getvalue()


def upload(swell, ns: str, data: bytes):
    sha = hashlib.sha256(data).hexdigest()
    return sha, swell.api("PUT", f"/v1/namespaces/{ns}/code/{sha}", data=data,
                          headers={"Content-Type": "application/octet-stream"})


def marker_files(name: str, roots: list[Path]) -> list[str]:
    found = []
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            if name in filenames or name in dirnames:
                found.append(os.path.join(dirpath, name))
    return found


def run_directory(server) -> Path:
    m = re.findall(r"run=(\S+)|\"run\": \"([^\"]+)\"|run: (\S+)", server.full_log())
    for groups in reversed(m):
        for g in groups:
            if g:
                return Path(g.strip('",'))
    raise AssertionError("the server must log its run directory")


def hostile_packages(marker: str, victim) -> dict[str, tuple[list[tuple], str]]:
    """name -> (members, the entry the refusal must name)."""
    pwn = marker.encode()
    target = f"../../{victim.namespace}/{victim.function}/{victim.sha}/app.py"
    return {
        "link-chain": ([("sym", "a", "."), ("sym", "l1", "a/.."), ("sym", "l2", "l1/.."), ("sym", "l3", "l2/.."),
                        ("file", f"l3/{marker}", pwn)], "l1"),
        "deep-link-chain": ([("sym", "a", "."), ("sym", "l1", "a/.."), ("sym", "l2", "l1/.."), ("sym", "l3", "l2/.."),
                             ("sym", "l4", "l3/.."), ("file", f"l4/{marker}", pwn)], "l1"),
        "victim-code-overwrite": ([("sym", "a", "."), ("sym", "l1", "a/.."), ("sym", "l2", "l1/.."),
                                   ("file", f"l2/{victim.namespace}/{victim.function}/{victim.sha}/app.py",
                                    b"def handler(e, c):\n    return {'answer': 'pwned'}\n")], "l1"),
        "absolute-link": ([("sym", "abs", "/tmp"), ("file", f"abs/{marker}", pwn)], "abs"),
        "absolute-link-alone": ([("sym", "etc", "/etc")], "etc"),
        "dotdot-name": ([("file", f"../{marker}", pwn)], marker),
        "dotdot-deep": ([("file", f"x/../../{marker}", pwn)], marker),
        "absolute-name": ([("file", f"/tmp/{marker}", pwn)], marker),
        "escaping-link": ([("dir", "d"), ("sym", "d/up", "../.."), ("file", f"d/up/{marker}", pwn)], "d/up:"),
        "relative-link-to-victim": ([("sym", "v", target)], "v"),
        "hard-link": ([("hard", "shadow", "/etc/shadow")], "shadow"),
        "hard-link-relative": ([("file", "a", b"x"), ("hard", "b", "a")], "b"),
        "link-then-file-through-it": ([("dir", "real"), ("sym", "l", "real"), ("file", f"l/{marker}", pwn)], f"l/{marker}"),
        "duplicate-entry": ([("file", "app.py", b"x"), ("sym", "app.py", "/etc/passwd")], "app.py"),
    }


@pytest.mark.parametrize("case", [
    "link-chain", "deep-link-chain", "victim-code-overwrite", "absolute-link", "absolute-link-alone", "dotdot-name",
    "dotdot-deep", "absolute-name", "escaping-link", "relative-link-to-victim", "hard-link", "hard-link-relative",
    "link-then-file-through-it", "duplicate-entry",
])
def test_hostile_package_is_refused_and_writes_nothing(server, swell, victim, unique, tmp_path, case):
    attacker = unique("attacker")
    marker = f"pwned-{uuid.uuid4().hex[:8]}"
    members, entry = hostile_packages(marker, victim)[case]
    data = tar_bytes(members)
    sha, r = upload(swell, attacker, data)
    assert r.status_code == 400, (r.status_code, r.text)
    body = r.json()["error"]
    assert entry in body["message"], body
    # Not stored: a function cannot use it.
    assert swell.api("HEAD", f"/v1/namespaces/{attacker}/code/{sha}").status_code == 404
    r = swell.api("PUT", f"/v1/namespaces/{attacker}/functions/evil", json_body={
        "runtime": "python3", "handler": "app.handler", "codeSha256": sha})
    assert r.status_code == 400, r.text
    # Nothing landed anywhere the package could have reached.
    roots = [server.data_dir, run_directory(server), Path("/tmp") / marker]
    assert marker_files(marker, roots[:2]) == [] and not roots[2].exists()
    victim_file = Path(victim.info["root"]) / "app.py"
    assert b"victim-ok" in victim_file.read_bytes()
    victim.check(cold=True)


def zip_with_links(members: list[tuple]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for m in members:
            info = zipfile.ZipInfo(m[1])
            info.create_system = 3  # unix: the mode below is read
            if m[0] == "sym":
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                z.writestr(info, m[2])
            else:
                info.external_attr = (stat.S_IFREG | 0o644) << 16
                z.writestr(info, m[2])
    return buf.getvalue()


@pytest.mark.parametrize("case", ["link-chain", "absolute-link", "escaping-link", "dotdot-name"])
def test_hostile_zip_is_refused_by_the_cli_and_the_server(server, swell, victim, app_dir, unique, case):
    attacker = unique("attacker")
    marker = f"pwned-{uuid.uuid4().hex[:8]}"
    members, entry = hostile_packages(marker, victim)[case]
    members = [m for m in members if m[0] != "dir"]
    (app_dir / "evil.zip").write_bytes(zip_with_links(members))
    (app_dir / "swell.yaml").write_text(json.dumps({"namespace": attacker, "functions": {
        "evil": {"runtime": "python3", "handler": "app.handler", "code": "./evil.zip"}}}))
    res = swell.cli("deploy", str(app_dir))
    assert res.code != 0, str(res)
    assert entry in res.stdout + res.stderr, str(res)
    # The same tree sent straight to the server (as tar, the only format it takes) is refused too.
    _, r = upload(swell, attacker, tar_bytes(members))
    assert r.status_code == 400 and entry in r.json()["error"]["message"], r.text
    assert marker_files(marker, [server.data_dir, run_directory(server)]) == []
    victim.check()


def test_another_namespaces_digest_cannot_deploy_its_code(swell, victim, unique):
    attacker = unique("attacker")
    assert swell.api("HEAD", f"/v1/namespaces/{victim.namespace}/code/{victim.sha}").status_code == 200
    assert swell.api("HEAD", f"/v1/namespaces/{attacker}/code/{victim.sha}").status_code == 404
    r = swell.api("PUT", f"/v1/namespaces/{attacker}/functions/copycat", json_body={
        "runtime": "python3", "handler": "app.handler", "codeSha256": victim.sha})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["field"] == "codeSha256" and attacker in r.json()["error"]["message"]
    r = swell.api("POST", f"/v1/namespaces/{attacker}/deploy", json_body={"functions": {
        "copycat": {"runtime": "python3", "handler": "app.handler", "codeSha256": victim.sha}}})
    assert r.status_code == 400, r.text
    assert swell.api("GET", f"/v1/namespaces/{attacker}/functions/copycat").status_code == 404
    victim.check()


# ---- what a function can read -------------------------------------------------


@needs_root
def test_function_cannot_read_the_data_directory_or_another_functions_code_and_temp(server, swell, victim, app_dir, unique):
    # Put another namespace's payload in the task database and its WAL.
    r = swell.api("POST", f"/v1/namespaces/{victim.namespace}/functions/{victim.function}/invoke?mode=async",
                  json_body={"payload": "victim-payload"})
    assert r.status_code == 202, r.text
    data = server.data_dir.resolve()
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
    for f in ["swell.db", "tasks.db", "triggers.db", "swell.db-wal", "tasks.db-wal", "tasks.db-shm", "admin.key"]:
        p = data / f
        if p.exists():
            assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, (f, oct(os.stat(p).st_mode))
    assert stat.S_IMODE(os.stat(data / "code").st_mode) == 0o700

    attacker = unique("attacker")
    swell.deploy(app_dir / "attacker", {"probe": python_fn(PROBE_PY)}, namespace=attacker)
    victim_root = Path(victim.info["root"])
    victim_tmp = Path(victim.info["tmp"])
    run = run_directory(server)
    reads = [str(data), str(data / "tasks.db"), str(data / "tasks.db-wal"), str(data / "swell.db"), str(data / "admin.key"),
             str(data / "code"), str(data / "code" / victim.namespace / f"{victim.sha}.tar"),
             str(victim_root), str(victim_root / "app.py"), str(victim_root.parent),
             str(victim_tmp), str(victim_tmp / "secret.txt"), str(victim_tmp.parent),
             str(run / "code"), str(run / "instances"), str(run / "code" / ".staging")]
    out = swell.invoke_ok("probe", {"read": reads}, ns=attacker)
    assert out["uid"] != 0 and out["uid"] != victim.info["uid"]
    leaked = {p: res for p, res in out["results"].items() if res == "read"}
    assert leaked == {}, leaked
    assert set(out["results"].values()) <= {"EACCES", "ENOENT"}, out["results"]
    # The data files exist (so EACCES, not ENOENT, is what stopped the reads that matter).
    assert out["results"][str(data / "tasks.db")] == "EACCES"
    assert out["results"][str(victim_root / "app.py")] == "EACCES"
    assert out["results"][str(victim_tmp / "secret.txt")] == "EACCES"

    # Its own code is readable, but not writable, even by itself.
    own = Path(out["root"])
    mine = swell.invoke_ok("probe", {"read": [str(own / "app.py")], "write": [str(own / "app.py"), str(own / "new.py")]}, ns=attacker)
    assert mine["results"][str(own / "app.py")] == "read"
    assert mine["writes"] == {str(own / "app.py"): "EACCES", str(own / "new.py"): "EACCES"}, mine["writes"]
    st = os.stat(own / "app.py")
    assert st.st_uid == 0 and st.st_gid == out["uid"] and stat.S_IMODE(st.st_mode) == 0o640
    st = os.stat(own)
    assert st.st_uid == 0 and st.st_gid == out["uid"] and stat.S_IMODE(st.st_mode) == 0o750
    # Its temp directory is its own, 0700.
    st = os.stat(out["tmp"])
    assert st.st_uid == out["uid"] and stat.S_IMODE(st.st_mode) == 0o700
    victim.check()


# ---- uids -----------------------------------------------------------------------


def old_uid(ns: str, name: str) -> int:
    """The uid the hashing scheme gave (200000 + FNV-1a(namespace/name) mod 50000)."""
    h = 2166136261
    for b in f"{ns}/{name}".encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return 200000 + h % 50000


@needs_root
def test_uids_are_distinct_even_for_names_that_collided_under_hashing(swell, app_dir, unique):
    ns_a, ns_b = unique("uida"), unique("uidb")
    # An attacker's search: a name in its namespace with the victim's hashed uid.
    victim_name = "target"
    wanted = old_uid(ns_a, victim_name)
    colliding = next(f"n{i}" for i in range(10_000_000) if old_uid(ns_b, f"n{i}") == wanted)
    whoami = "import os\ndef handler(e, c):\n    return {'uid': os.getuid(), 'gid': os.getgid()}\n"
    swell.deploy(app_dir / "a", {victim_name: python_fn(whoami), **{f"a{i}": python_fn(whoami) for i in range(6)}}, namespace=ns_a)
    swell.deploy(app_dir / "b", {colliding: python_fn(whoami), **{f"b{i}": python_fn(whoami) for i in range(6)}}, namespace=ns_b)
    uids = {}
    for ns, names in [(ns_a, [victim_name] + [f"a{i}" for i in range(6)]), (ns_b, [colliding] + [f"b{i}" for i in range(6)])]:
        for n in names:
            out = swell.invoke_ok(n, {}, ns=ns)
            assert out["uid"] == out["gid"] and out["uid"] >= 200000
            uids[f"{ns}/{n}"] = out["uid"]
    assert len(set(uids.values())) == len(uids), uids
    assert uids[f"{ns_a}/{victim_name}"] != uids[f"{ns_b}/{colliding}"]


# ---- run directory ----------------------------------------------------------------


def legacy_run_name(data_dir: Path) -> str:
    h = 14695981039346656037
    for b in str(data_dir).encode():
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return "/tmp/swell-run-" + format(h, "x")


EVIL_BOOTSTRAP_JS = "require('fs').writeFileSync('{marker}', 'root code execution');\n"
EVIL_BOOTSTRAP_PY = "open('{marker}', 'w').write('root code execution')\n"


@needs_root
def test_squatted_run_directory_is_never_used(make_server, tmp_path, app_dir, unique):
    data = tmp_path / "squat-data"
    data.mkdir(mode=0o700)
    marker = Path("/tmp") / f"pwned-{uuid.uuid4().hex[:8]}"
    squats = [Path(legacy_run_name(data.resolve()))] + [Path(f"/tmp/swell-run-{uuid.uuid4().hex[:8]}") for _ in range(2)]
    for d in squats:
        for sub in ["runtime/nodejs", "runtime/python", "code", "instances"]:
            (d / sub).mkdir(parents=True, exist_ok=True)
        (d / "runtime/nodejs/bootstrap.js").write_text(EVIL_BOOTSTRAP_JS.format(marker=marker))
        (d / "runtime/python/bootstrap.py").write_text(EVIL_BOOTSTRAP_PY.format(marker=marker))
        for p in [d, *d.rglob("*")]:
            os.chown(p, 4242, 4242)
            os.chmod(p, 0o777 if p.is_dir() else 0o666)
    try:
        srv = make_server(data)
        run = run_directory(srv)
        assert run not in squats
        st = os.lstat(run)
        assert st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o711 and stat.S_ISDIR(st.st_mode)
        c = srv.client()
        c.deploy(app_dir, {"py": python_fn("def handler(e, c):\n    return {'ok': 'py'}\n"),
                           "js": node_fn("exports.handler = async () => ({ ok: 'js' });")}, namespace=unique("squat"))
        ns = json.loads((app_dir / "swell.yaml").read_text())["namespace"]
        assert c.invoke_ok("py", {}, ns=ns) == {"ok": "py"}
        assert c.invoke_ok("js", {}, ns=ns) == {"ok": "js"}
        assert not marker.exists(), "a squatted bootstrap ran"
        for d in squats:  # left alone: not Swell's
            assert d.exists() and os.lstat(d).st_uid == 4242
        srv.stop()
        assert not run.exists(), "the run directory must be removed at shutdown"
    finally:
        import shutil
        for d in squats:
            shutil.rmtree(d, ignore_errors=True)
        marker.unlink(missing_ok=True)


def test_stale_run_directories_are_reclaimed_and_live_ones_kept(make_server, tmp_path):
    # A dead server's directory (marker with a pid that is gone) and a live one's (this test's pid).
    dead_pid = 2 ** 22 - 7
    stale = Path(f"/tmp/swell-run-stale{uuid.uuid4().hex[:6]}")
    live = Path(f"/tmp/swell-run-live{uuid.uuid4().hex[:6]}")
    for d, pid in [(stale, dead_pid), (live, os.getpid())]:
        (d / "instances" / "i-1" / "tmp").mkdir(parents=True)
        os.chmod(d, 0o711)
        start = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19] if pid == os.getpid() else "1"
        (d / ".swell-owner").write_text(f"{pid} {start}\n/somewhere\n")
    # A link planted inside must be removed, not followed.
    keep = tmp_path / "keep.txt"
    keep.write_text("keep")
    os.symlink(keep, stale / "instances" / "i-1" / "tmp" / "link")
    try:
        srv = make_server(tmp_path / "reclaim-data")
        assert not stale.exists()
        assert live.exists()
        assert keep.read_text() == "keep"
        srv.stop()
    finally:
        import shutil
        shutil.rmtree(stale, ignore_errors=True)
        shutil.rmtree(live, ignore_errors=True)


@needs_root
def test_data_directory_of_another_uid_is_refused(make_server, tmp_path):
    data = tmp_path / "foreign-data"
    data.mkdir()
    os.chown(data, 4242, 4242)
    with pytest.raises(RuntimeError) as e:
        make_server(data)
    assert "belongs to uid 4242" in str(e.value), str(e.value)


def test_existing_data_directory_is_made_private(make_server, tmp_path):
    data = tmp_path / "open-data"
    data.mkdir()
    os.chmod(data, 0o755)
    srv = make_server(data)
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
    for f in ["swell.db", "tasks.db", "triggers.db", "admin.key"]:
        assert stat.S_IMODE(os.stat(data / f).st_mode) == 0o600, f
    srv.stop()


# ---- rlimits of pre-booted instances -------------------------------------------------

LIMITS_PY = """
import os
def handler(event, context):
    limits = {}
    for line in open('/proc/self/limits').read().splitlines()[1:]:
        name = line[:26].strip()
        limits[name] = line[26:47].strip()
    return {"pid": os.getpid(), "limits": limits}
"""


def test_prebooted_instance_has_the_instance_rlimits(server, swell, app_dir, unique):
    from test_warm_pool import wait_for_prebooted

    name = unique("limits")
    swell.deploy(app_dir, {name: python_fn(LIMITS_PY)})
    waiting = wait_for_prebooted(server, "python/bootstrap.py")
    out = swell.invoke_ok(name, {})
    assert out["pid"] in waiting, "the instance must be a pre-booted process"
    assert out["limits"]["Max open files"] == "4096", out["limits"]
    if ROOT:
        assert out["limits"]["Max processes"] == "1024", out["limits"]


# ---- tasks and keys ------------------------------------------------------------------

SLOW_PY = "import time\ndef handler(e, c):\n    time.sleep(e.get('sleep', 0))\n    return {'ok': True}\n"


def test_another_namespaces_task_is_not_found(swell, app_dir, unique):
    ns_a, ns_b = unique("tasks-a"), unique("tasks-b")
    swell.deploy(app_dir, {"slow": python_fn(SLOW_PY, timeout=30)}, namespace=ns_a)
    r = swell.api("POST", f"/v1/namespaces/{ns_a}/functions/slow/invoke?mode=async", json_body={"sleep": 4})
    assert r.status_code == 202, r.text
    task_id = r.json()["taskId"]
    # While it is queued or running, and after it finished: 404 from the other namespace.
    for path, method in [(f"tasks/{task_id}/retry", "POST"), (f"tasks/{task_id}", "GET"), (f"tasks/{task_id}/stop", "POST")]:
        r = swell.api(method, f"/v1/namespaces/{ns_b}/{path}")
        assert r.status_code == 404, (path, r.status_code, r.text)
    # Its own namespace sees it still live.
    assert swell.api("POST", f"/v1/namespaces/{ns_a}/tasks/{task_id}/retry").status_code == 409
    deadline = time.time() + 30
    while time.time() < deadline:
        state = swell.api("GET", f"/v1/namespaces/{ns_a}/tasks/{task_id}").json()["task"]["state"]
        if state == "succeeded":
            break
        time.sleep(0.2)
    assert swell.api("POST", f"/v1/namespaces/{ns_b}/tasks/{task_id}/retry").status_code == 404


def test_last_platform_admin_key_cannot_be_revoked(make_server, tmp_path):
    srv = make_server(tmp_path / "keys-data")
    c = srv.client()
    keys = c.api("GET", "/v1/namespaces/default/keys").json()["keys"]
    admins = [k for k in keys if k["role"] == "admin" and not k.get("revoked")]
    assert len(admins) == 1
    first = admins[0]["id"]
    r = c.api("DELETE", f"/v1/namespaces/default/keys/{first}")
    assert r.status_code == 409, r.text
    assert "last admin key" in r.json()["error"]["message"]
    assert c.api("GET", "/v1/whoami").status_code == 200
    # With a second admin key, the first can go; then the second is the last.
    second = c.api("POST", "/v1/namespaces/default/keys", json_body={"role": "admin", "name": "second"}).json()
    c2 = srv.client(second["key"])
    assert c2.api("DELETE", f"/v1/namespaces/default/keys/{first}").status_code == 204
    assert c.api("GET", "/v1/whoami").status_code == 401
    r = c2.api("DELETE", f"/v1/namespaces/default/keys/{second['id']}")
    assert r.status_code == 409, r.text
    assert c2.api("GET", "/v1/whoami").status_code == 200
    # A namespace's own admin keys are not the platform's: the last one may go.
    ns_admin = c2.api("POST", "/v1/namespaces/team/keys", json_body={"role": "admin"}).json()
    assert c2.api("DELETE", f"/v1/namespaces/team/keys/{ns_admin['id']}").status_code == 204


# ---- upgrade ---------------------------------------------------------------------------


def test_functions_stored_in_the_older_layout_keep_working(make_server, tmp_path, app_dir, unique):
    import sqlite3

    data = tmp_path / "upgrade-data"
    srv = make_server(data)
    c = srv.client()
    ns = unique("old")
    whoami = "import os\ndef handler(e, c):\n    return {'uid': os.getuid()}\n"
    c.deploy(app_dir, {"f": python_fn(whoami)}, namespace=ns)
    before = c.invoke_ok("f", {}, ns=ns)
    srv.stop()
    # The layout of older versions: one archive for every namespace, no stored uids.
    for tar in list((data / "code" / ns).glob("*.tar")):
        tar.rename(data / "code" / tar.name)
    (data / "code" / ns).rmdir()
    db = sqlite3.connect(data / "swell.db")
    db.execute("DELETE FROM function_uids")
    db.commit()
    db.close()
    srv.start()
    c = srv.client()
    after = c.invoke_ok("f", {}, ns=ns)
    if ROOT:
        assert after["uid"] >= 200000
    sha = c.api("GET", f"/v1/namespaces/{ns}/functions/f").json()["function"]["codeSha256"]
    assert c.api("HEAD", f"/v1/namespaces/{ns}/code/{sha}").status_code == 200
    assert c.api("HEAD", f"/v1/namespaces/{unique('other')}/code/{sha}").status_code == 404
    # The uid is allocated afresh (the old hashed one was never stored), and it is no longer root's.
    assert not ROOT or (before["uid"] != 0 and after["uid"] != 0)


def test_run_directory_of_a_killed_server_is_reclaimed_by_the_next(make_server, tmp_path, app_dir, unique):
    data = tmp_path / "killed-data"
    srv = make_server(data)
    c = srv.client()
    ns = unique("killed")
    c.deploy(app_dir, {"f": python_fn("def handler(e, c):\n    return {'ok': 1}\n")}, namespace=ns)
    assert c.invoke_ok("f", {}, ns=ns) == {"ok": 1}
    first = run_directory(srv)
    assert first.exists()
    srv.proc.kill()
    srv.proc.wait()
    time.sleep(0.5)  # instances die with the server (PDEATHSIG)
    assert first.exists(), "kill -9 leaves it behind"
    srv.start()
    second = run_directory(srv)
    assert second != first and not first.exists()
    assert srv.client().invoke_ok("f", {}, ns=ns) == {"ok": 1}


DAEMON_PY = """
import os, subprocess
def handler(event, context):
    # A process that leaves the instance's process group, as a daemon would.
    p = subprocess.Popen(["sleep", "300"], start_new_session=True)
    return {"daemon": p.pid}
"""


def test_processes_that_left_the_process_group_die_with_their_instance(server, swell, app_dir, unique):
    if "rlimits only" in server.full_log() or "cgroup" not in server.full_log():
        pytest.skip("only the cgroup modes kill what escaped the process group")
    ns = unique("daemon")
    swell.deploy(app_dir, {"d": python_fn(DAEMON_PY)}, namespace=ns)
    pid = swell.invoke_ok("d", {}, ns=ns)["daemon"]
    assert Path(f"/proc/{pid}").exists()
    # A configuration change retires the instance.
    spec = swell.api("GET", f"/v1/namespaces/{ns}/functions/d").json()["function"]
    r = swell.api("PUT", f"/v1/namespaces/{ns}/functions/d", json_body={
        "runtime": spec["runtime"], "handler": spec["handler"], "codeSha256": spec["codeSha256"], "memory": 256})
    assert r.status_code == 200, r.text
    deadline = time.time() + 15
    while time.time() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.1)
    state = Path(f"/proc/{pid}/stat").read_text().split()[2] if Path(f"/proc/{pid}").exists() else "gone"
    assert state in ("gone", "Z"), f"the daemon {pid} outlived its instance ({state})"


def test_legacy_run_directories_are_reclaimed_unless_a_running_server_uses_them(make_server, tmp_path):
    import subprocess

    in_use_data = tmp_path / "old-server-data"
    in_use = Path(legacy_run_name(in_use_data))
    unused = Path("/tmp/swell-run-" + uuid.uuid4().hex[:16])
    for d in (in_use, unused):
        (d / "instances").mkdir(parents=True)
        os.chmod(d, 0o711)
    # An older `swell serve` still running on its data directory (its command line is what counts).
    old = subprocess.Popen(["swell", "-f", "--", "/dev/null", "serve", "--data-dir", str(in_use_data)],
                           executable="/usr/bin/tail", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.2)
        srv = make_server(tmp_path / "legacy-reclaim-data")
        assert not unused.exists()
        assert in_use.exists()
        srv.stop()
    finally:
        old.kill()
        old.wait()
        import shutil
        shutil.rmtree(in_use, ignore_errors=True)
        shutil.rmtree(unused, ignore_errors=True)

"""Exit 0 when the TCP socket listening on 127.0.0.1:PORT (or any address) belongs to PID
(or a descendant of it); 1 otherwise. Linux only: /proc/net/tcp{,6} and /proc/PID/fd.

    python3 listener_pid.py PORT PID
"""

import os
import sys


def listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    local, state, inode = parts[1], parts[3], parts[9]
                    if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                        inodes.add(inode)
        except OSError:
            pass
    return inodes


def socket_inodes(pid: int) -> set[str]:
    found = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                found.add(target[8:-1])
    except OSError:
        pass
    return found


def descendants(pid: int) -> list[int]:
    out = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                for child in f.read().split():
                    out += descendants(int(child))
    except OSError:
        pass
    return out


def main() -> int:
    port, pid = int(sys.argv[1]), int(sys.argv[2])
    wanted = listening_inodes(port)
    return 0 if any(wanted & socket_inodes(p) for p in descendants(pid)) else 1


if __name__ == "__main__":
    sys.exit(main())

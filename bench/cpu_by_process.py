#!/usr/bin/env python3
"""CPU seconds spent by each part of a benchmark run, to see where the time of a job goes.

Runs COMMAND, sampling /proc every 0.1 s, and prints as JSON the CPU seconds (user + system)
used during the run by
- the COMMAND process itself (e.g. `queue_throughput` with its submitting clients),
- each `stix-archive` process it started (by role: `serve`, `worker`, `ingest`),
- PostgreSQL: the postmaster with every backend, including those that ended during the run.

    python3 bench/cpu_by_process.py -- /work/rt/release/examples/queue_throughput --job clean ...

PostgreSQL must run on this machine (its postmaster is found by the name `postgres`); run it
as a user that can read every process's /proc entry (root).
"""

import json
import os
import resource
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def stat(pid):
    """(comm, ppid, own seconds, waited-for children's seconds), or None when gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    comm = s[s.index("(") + 1 : s.rindex(")")]
    rest = s[s.rindex(")") + 2 :].split()
    ppid = int(rest[1])
    utime, stime, cutime, cstime = (int(x) for x in rest[11:15])
    return comm, ppid, (utime + stime) / TICK, (cutime + cstime) / TICK


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def postgres_seconds():
    """Every postgres process's own CPU plus what the postmaster reaped from ended backends."""
    total = 0.0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        st = stat(int(d))
        if st is None or st[0] != "postgres":
            continue
        comm, ppid, own, children = st
        total += own
        parent = stat(ppid)
        if parent is None or parent[0] != "postgres":
            total += children  # the postmaster: ended backends are here
    return total


def role(pid):
    args = [a.decode(errors="replace") for a in cmdline(pid)]
    if not args or not args[0].endswith("stix-archive"):
        return None
    return args[1] if len(args) > 1 else "stix-archive"


def main():
    if "--" not in sys.argv:
        sys.exit(__doc__)
    command = sys.argv[sys.argv.index("--") + 1 :]
    pg_before = postgres_seconds()
    child = subprocess.Popen(command)
    seen = {}  # pid -> (role, seconds)
    while child.poll() is None:
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            pid = int(d)
            r = role(pid)
            if r is None:
                continue
            st = stat(pid)
            if st is not None:
                seen[pid] = (r, st[2])
        time.sleep(0.1)
    pg = postgres_seconds() - pg_before
    by_role = {}
    for r, s in seen.values():
        by_role.setdefault(r, []).append(round(s, 2))
    # The command's own time: its children's (the stix-archive processes, reaped by it) are
    # reported above, so only its own is counted here.
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    total_children = ru.ru_utime + ru.ru_stime
    stix = sum(s for _, s in seen.values())
    print(
        json.dumps(
            {
                "exit": child.returncode,
                "postgres_s": round(pg, 2),
                "stix_archive_s": by_role,
                "command_s": round(max(total_children - stix, 0.0), 2),
            }
        )
    )


if __name__ == "__main__":
    main()

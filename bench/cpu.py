"""CPU time spent by each process tree during a measured run, from /proc (Linux).

Requests per second depend on whatever else the machine is doing; CPU milliseconds per request
barely do, so the bench reports both: the second says where the work is.
"""

from __future__ import annotations

import os
from pathlib import Path

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2:].split()  # fields after "pid (comm) ", starting with state


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def tree_cpu_seconds(pid: int) -> float:
    """User + system time of `pid`, its live descendants and the children it has reaped."""
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    total = (utime + stime + cutime + cstime) / TICKS_PER_SECOND
    return total + sum(tree_cpu_seconds(child) for child in _children(pid))


def backends_cpu_seconds(database: str) -> dict[int, float]:
    """CPU time of each live PostgreSQL backend connected to `database` (matched by its title)."""
    seconds = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres: ") and f" {database} " in title:
            fields = _stat_fields(int(entry.name))
            if fields is not None:
                seconds[int(entry.name)] = (int(fields[11]) + int(fields[12])) / TICKS_PER_SECOND
    return seconds


class CpuMeter:
    """CPU seconds used between start() and stop() by each named process tree and the database."""

    def __init__(self, pids: dict[str, int], database: str):
        self.pids = pids
        self.database = database

    def start(self) -> None:
        self._trees = {name: tree_cpu_seconds(pid) for name, pid in self.pids.items()}
        self._backends = backends_cpu_seconds(self.database)

    def stop(self) -> dict[str, float]:
        used = {name: tree_cpu_seconds(pid) - self._trees[name] for name, pid in self.pids.items()}
        backends = backends_cpu_seconds(self.database)
        # A backend that started during the run counts from zero; one that ended is lost (rare:
        # the pools keep their connections).
        used["postgres"] = sum(now - self._backends.get(pid, 0.0) for pid, now in backends.items())
        return used

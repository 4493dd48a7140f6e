"""Processes by PID, read from /proc (Linux): liveness, descendants, memory, and stopping.

A PID alone is not an identity: once a process is gone its number can be reused. Everything
here therefore takes the process's start time (field 22 of /proc/PID/stat, in clock ticks
since boot) along with the PID and leaves alone a process whose start time differs. Nothing
is ever looked up or signalled by name.
"""

from __future__ import annotations

import os
import signal
import time


def _stat_fields(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/PID/stat (after the parenthesised command, which may hold spaces)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def start_time(pid: int) -> int | None:
    """The process's start time, or None when it does not exist or is a zombie."""
    fields = _stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def alive(pid: int, started: int | None = None) -> bool:
    """``pid`` runs (not a zombie) and, if given, is the process that started at ``started``."""
    now = start_time(pid)
    return now is not None and (started is None or now == started)


def descendants(pid: int) -> list[tuple[int, int]]:
    """(pid, start time) of every live descendant of ``pid``."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    out: list[tuple[int, int]] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            started = start_time(child)
            if started is not None:
                out.append((child, started))
                todo.append(child)
    return out


def tree_rss_mib(pid: int) -> int:
    """Resident memory of ``pid`` and its descendants, MiB."""
    kib = 0
    for p in [pid, *(d for d, _ in descendants(pid))]:
        try:
            with open(f"/proc/{p}/status") as f:
                kib += next((int(ln.split()[1]) for ln in f if ln.startswith("VmRSS:")), 0)
        except OSError:
            pass
    return kib // 1024


def _signal(pid: int, started: int, sig: int) -> None:
    if alive(pid, started):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def wait_gone(pid: int, started: int, timeout: float) -> bool:
    """Poll until the process is gone (or a zombie); False if it still runs at the deadline."""
    deadline = time.monotonic() + timeout
    while alive(pid, started):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def stop_tree(pid: int, started: int, grace: float = 30.0) -> bool:
    """SIGTERM ``pid`` (vLLM then shuts its engine processes down), wait up to ``grace``
    seconds, then SIGKILL it and every descendant it had, including those it left behind.
    Returns False if the process was not running."""
    if not alive(pid, started):
        return False
    family = descendants(pid)  # before TERM: orphans are re-parented and would be lost
    _signal(pid, started, signal.SIGTERM)
    if not wait_gone(pid, started, grace):
        _signal(pid, started, signal.SIGKILL)
    for child, child_started in family + descendants(pid):
        _signal(child, child_started, signal.SIGKILL)
    for child, child_started in family:
        wait_gone(child, child_started, 5.0)
    wait_gone(pid, started, 5.0)
    return True

"""The integration harness stops servers by PID (tests/integration/harness/procs.py): it must
stop the whole process tree, escalate to SIGKILL, and never signal a process whose start
time differs from the recorded one (a reused PID). Checked here with stand-in processes."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest

from integration.harness import procs

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")

# A stand-in for `vllm serve`: starts a child (like the engine process), prints its PID, then
# runs until killed. IGNORE_TERM makes it ignore SIGTERM, like a server stuck in shutdown.
PARENT = """
import signal, subprocess, sys, time
if sys.argv[1] == "1":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(child.pid, flush=True)
time.sleep(600)
"""


Spawn = Callable[..., tuple["subprocess.Popen[str]", int]]


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    made: list[tuple[subprocess.Popen[str], int]] = []

    def _spawn(ignore_term: bool = False) -> tuple[subprocess.Popen[str], int]:
        proc = subprocess.Popen(
            [sys.executable, "-c", PARENT, "1" if ignore_term else "0"],
            stdout=subprocess.PIPE, text=True, start_new_session=True,
        )
        assert proc.stdout is not None
        child = int(proc.stdout.readline())
        made.append((proc, child))
        return proc, child

    yield _spawn
    for proc, child in made:  # whatever a failing test left behind
        for pid in (child, proc.pid):
            started = procs.start_time(pid)
            if started is not None:
                procs.stop_tree(pid, started, grace=0.1)
        proc.wait(timeout=10)


def test_stop_tree_stops_the_process_and_the_child_it_leaves(spawn: Spawn) -> None:
    proc, child = spawn()
    started, child_started = procs.start_time(proc.pid), procs.start_time(child)
    assert started is not None and child_started is not None
    assert (child, child_started) in procs.descendants(proc.pid)
    assert procs.stop_tree(proc.pid, started, grace=10)
    assert proc.wait(timeout=10) == -signal.SIGTERM  # TERM sufficed
    assert procs.wait_gone(child, child_started, 10)  # the orphan was killed too


def test_stop_tree_escalates_to_sigkill(spawn: Spawn) -> None:
    proc, child = spawn(ignore_term=True)
    started = procs.start_time(proc.pid)
    assert started is not None
    assert procs.stop_tree(proc.pid, started, grace=0.5)
    assert proc.wait(timeout=10) == -signal.SIGKILL
    assert not procs.alive(child)


def test_a_pid_with_another_start_time_is_left_alone(spawn: Spawn) -> None:
    proc, child = spawn()
    started = procs.start_time(proc.pid)
    assert started is not None
    assert not procs.alive(proc.pid, started + 1)
    assert procs.stop_tree(proc.pid, started + 1, grace=0.1) is False
    assert procs.alive(proc.pid, started) and procs.alive(child)


def test_a_zombie_counts_as_gone() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    started = procs.start_time(proc.pid)  # it waits for end of input: running
    assert started is not None and procs.alive(proc.pid, started)
    assert proc.stdin is not None
    proc.stdin.close()
    # it exits; not reaped yet, it is a zombie, and that is "gone"
    assert procs.wait_gone(proc.pid, started, 10)
    assert proc.wait(timeout=10) == 0
    assert procs.start_time(proc.pid) is None

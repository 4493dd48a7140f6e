"""Start and stop real ``vllm serve`` processes on 127.0.0.1, one per port.

A server runs in its own session (setsid), writes ``run/vllm-PORT.log``, and is described by
``run/vllm-PORT.json``: variant, PID and the process's start time (so that a reused PID is
never mistaken for it), and an ``owner`` tag. Whoever starts servers under a tag can stop
exactly those later (``stop_owned``) -- CI's exit trap does, after pytest is gone.

Port choice and launch happen under ``machine_lock()`` (flock), so several processes on one
machine (pytest sessions, the CLI) never start two servers on one port, and ``start`` can
refuse to exceed a machine-wide number of servers (each takes about 2 GiB and a core).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import home, procs
from .variants import VARIANTS

SERVED_NAME = "tiny"
MAX_MODEL_LEN = 2048
STARTUP_TIMEOUT = float(os.environ.get("VLLM_IT_STARTUP_TIMEOUT", "300"))

#: the CPU backend, loopback only, offline, no usage reporting
SERVER_ENV = {
    "VLLM_TARGET_DEVICE": "cpu",
    "VLLM_HOST_IP": "127.0.0.1",  # vLLM's internal sockets too
    "VLLM_NO_USAGE_STATS": "1",
    "DO_NOT_TRACK": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}
#: the caller's environment must not change the server: this one overrides --kv-cache-memory-bytes
DROPPED_ENV = ("VLLM_CPU_KVCACHE_SPACE",)


class PortBusy(Exception):
    """Something (a server of ours or anything else) already listens on the port."""


class NoSlot(Exception):
    """``machine_max`` servers are up already."""

    def __init__(self, live: dict[int, Server]) -> None:
        super().__init__(f"{len(live)} real vLLM servers up: " + ", ".join(f"{p} ({s.pid})" for p, s in live.items()))
        self.live = live


class StartError(RuntimeError):
    """The server exited or did not become healthy in time (the message ends with its log)."""


@dataclass
class Server:
    """A server we launched (or found in its record)."""

    variant: str
    port: int
    pid: int
    started: int  # the process's start time (procs.start_time)
    log_path: Path
    api_key: str | None = None
    owner: str = ""
    command: list[str] = field(default_factory=list)
    startup_s: float = 0.0

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (/health, /version, /metrics, /tokenize live here)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: what the client takes."""
        return f"{self.url}/v1"

    def alive(self) -> bool:
        return procs.alive(self.pid, self.started)

    def rss_mib(self) -> int:
        return procs.tree_rss_mib(self.pid) if self.alive() else 0

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def wait_for_log(self, needle: str, *, since: int = 0, timeout: float = 15.0) -> bool:
        """Poll the log (from byte offset ``since``) until ``needle`` appears."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with self.log_path.open("rb") as f:
                    f.seek(since)
                    if needle in f.read().decode("utf-8", "replace"):
                        return True
            except OSError:
                pass
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=5) as resp:
                return bool(resp.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    def wait_ready(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Poll /health until it answers 200. If the process exits first, or the deadline
        passes (then it is stopped), raise StartError with the log's tail."""
        deadline = time.monotonic() + timeout
        while not self.healthy():
            if not self.alive():
                _forget(self)
                raise StartError(f"{self.variant} on port {self.port} exited during start-up:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise StartError(f"{self.variant} on port {self.port}: no /health after {timeout:.0f} s:\n"
                                 f"{self.log_tail()}")
            time.sleep(0.5)

    def stop(self) -> bool:
        """Stop it (procs.stop_tree) and drop its record. False if it was not running."""
        was_running = procs.stop_tree(self.pid, self.started)
        _forget(self)
        return was_running

    def __repr__(self) -> str:
        return f"Server({self.variant!r}, port={self.port}, pid={self.pid})"


# --------------------------------------------------------------------------- records

#: servers this process launched: reaped when stopped, so they do not linger as zombies
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _write_record(srv: Server) -> None:
    data = asdict(srv)
    data["log_path"] = str(srv.log_path)
    home.record_path(srv.port).write_text(json.dumps(data, indent=1) + "\n")


def _forget(srv: Server) -> None:
    """Drop srv's record (not a newer one of the same port: under the lock) and reap it."""
    with machine_lock():
        rec = read_record(srv.port)
        if rec is not None and (rec.pid, rec.started) == (srv.pid, srv.started):
            home.record_path(srv.port).unlink(missing_ok=True)
    child = _CHILDREN.pop(srv.pid, None)
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=5)


def read_record(port: int) -> Server | None:
    try:
        data = json.loads(home.record_path(port).read_text())
        data["log_path"] = Path(data["log_path"])
        return Server(**data)
    except (OSError, ValueError, TypeError, KeyError):
        return None


def live_servers() -> dict[int, Server]:
    """port -> server, for every recorded server that still runs. (A stale record, of a server
    that died without being stopped, is ignored here and replaced by the next launch on its
    port: deleting it outside machine_lock() could race with that launch.)"""
    out: dict[int, Server] = {}
    for path in sorted(home.run_dir().glob("vllm-*.json")):
        try:
            port = int(path.stem.removeprefix("vllm-"))
        except ValueError:
            continue
        srv = read_record(port)
        if srv is not None and srv.alive():
            out[port] = srv
    return out


def machine_lock() -> contextlib.AbstractContextManager[None]:
    """Exclusive between all processes using this harness home (not re-entrant)."""
    return home.flock(home.run_dir() / ".lock")


# --------------------------------------------------------------------------- start / stop


def command(variant: str, port: int) -> list[str]:
    model = VARIANTS[variant].model
    return [
        str(home.venv_bin("vllm")), "serve", str(home.model_dir(model)),
        "--host", "127.0.0.1", "--port", str(port),
        "--served-model-name", SERVED_NAME if model == "tiny" else model,
        "--load-format", "dummy",  # random weights: the model directory has none
        "--enforce-eager",  # no graph capture: faster start on the CPU
        "--dtype", "float32",
        "--max-model-len", str(MAX_MODEL_LEN),
        "--max-num-seqs", "8",
        "--seed", "0",
        *VARIANTS[variant].serve_args(),
    ]  # fmt: skip


def port_bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def launch(variant: str, port: int, *, owner: str = "") -> Server:
    """Start the process and record it; do not wait. The caller holds machine_lock()."""
    if variant not in VARIANTS:
        raise KeyError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
    if port in live_servers() or not port_bindable(port):
        raise PortBusy(f"port {port} is in use")
    spec = VARIANTS[variant]
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    env.setdefault("VLLM_CPU_OMP_THREADS_BIND", "auto")
    env.update(SERVER_ENV)
    env.update(spec.env)
    cmd = command(variant, port)
    log = home.log_path(port)
    with log.open("wb") as out:
        child = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    _CHILDREN[child.pid] = child
    started = procs.start_time(child.pid)
    srv = Server(variant, port, child.pid, started or 0, log, spec.api_key, owner, cmd)
    _write_record(srv)
    return srv


def start(
    variant: str,
    port: int,
    *,
    owner: str = "",
    timeout: float = STARTUP_TIMEOUT,
    machine_max: int | None = None,
) -> Server:
    """Launch ``variant`` on ``port`` and wait until it is healthy. Raises PortBusy, NoSlot
    (``machine_max`` servers are up), or StartError."""
    t0 = time.monotonic()
    with machine_lock():
        if machine_max is not None:
            live = live_servers()
            if len(live) >= machine_max:
                raise NoSlot(live)
        srv = launch(variant, port, owner=owner)
    srv.wait_ready(timeout)
    srv.startup_s = round(time.monotonic() - t0, 3)
    _write_record(srv)
    return srv


def stop(port: int) -> Server | None:
    """Stop the recorded server on ``port``; returns it, or None if there was none running."""
    srv = read_record(port)
    if srv is None:
        return None
    return srv if srv.stop() else None


def stop_owned(owner: str) -> list[Server]:
    """Stop every live server started with this owner tag."""
    return [srv for srv in live_servers().values() if srv.owner == owner and srv.stop()]

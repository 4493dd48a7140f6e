"""An existing gateway in front of real vLLM servers: ``vllm-router`` from PyPI, for the
fleets that outgrow one client's routing.

``vllm-router`` on PyPI is vllm-project/router (a Rust fork of SGLang's router; the wheel is a
prebuilt ``vllm_router_rs`` extension and its launcher, 24 MB). vLLM's production-stack once
published a Python router under the same name, so the install pins the version and checks the
distribution's summary ("Rust-based load balancer") before it is used.

It gets its own small venv in the harness home (``gateway-venv/``: a gateway is not a
dependency of ours or of vLLM's), installed once and stamped like the vLLM venv. A gateway is
started in its own session with its log in ``run/gateway-PORT.log``, waited for on
``/health`` (polled with a deadline; it exits early -> its log's tail) and stopped by PID and
process start time, as servers are (procs.py).

What the integration tests measured through it is in the README's "Behind a gateway".
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
import venv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import home, install, procs, server

GATEWAY_DIST = "vllm-router"
GATEWAY_SPEC = f"{GATEWAY_DIST}==0.1.17"
#: the project this package must be (its METADATA Summary), see the module docstring
GATEWAY_SUMMARY = "Rust-based load balancer for VLLM"
STARTUP_TIMEOUT = 60.0


def venv_dir() -> Path:
    return home.home() / "gateway-venv"


def _stamp() -> Path:
    return venv_dir() / ".vllm-client-gateway"


def binary() -> Path:
    return venv_dir() / "bin" / "vllm-router"


def installed() -> bool:
    try:
        return _stamp().read_text() == GATEWAY_SPEC and binary().exists()
    except OSError:
        return False


def install_gateway(say: install.Say = print) -> None:
    """Install ``GATEWAY_SPEC`` into its venv (idempotent, one installer at a time). Raises
    ``install.InstallError`` (``network=True`` when PyPI cannot be reached)."""
    if installed():
        return
    with home.flock(home.home() / ".gateway-install.lock"):
        if installed():
            return
        py = venv_dir() / "bin" / "python"
        if not py.exists():
            say(f"creating the venv {venv_dir()}")
            venv.EnvBuilder(with_pip=True).create(venv_dir())
        say(f"pip install {GATEWAY_SPEC}")
        r = subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", GATEWAY_SPEC],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
        if r.returncode != 0:
            out = r.stdout + r.stderr
            raise install.InstallError(f"pip install {GATEWAY_SPEC} failed:\n{out[-3000:]}",
                                       network=install.network_down(out))
        show = subprocess.run([str(py), "-m", "pip", "show", GATEWAY_DIST], capture_output=True, text=True,
                              check=False).stdout
        if GATEWAY_SUMMARY not in show:
            raise install.InstallError(f"{GATEWAY_SPEC} is not vllm-project/router:\n{show}", network=False)
        _stamp().write_text(GATEWAY_SPEC)


@dataclass(repr=False)
class Gateway(server.Server):
    """A running ``vllm-router`` (started by :func:`start`): a server.Server for its URLs, its
    log and liveness (``variant`` is ``"vllm-router"``), plus what it routes to."""

    workers: tuple[str, ...] = ()
    policy: str = ""

    def stop(self) -> bool:
        stopped = procs.stop_tree(self.pid, self.started, grace=10.0)  # no record file: not _forget
        child = server._CHILDREN.pop(self.pid, None)
        if child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=5)  # reaped: no zombie left behind
        return stopped


def free_port() -> int:
    """A port nothing listens on now (the kernel's choice; the gateway binds it right after)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(workers: Sequence[str], port: int, *, policy: str = "consistent_hash",
          args: Sequence[str] = (), timeout: float = STARTUP_TIMEOUT) -> Gateway:
    """Start a gateway on ``port`` in front of ``workers`` (``http://127.0.0.1:P`` URLs) and
    wait until ``/health`` answers; raises RuntimeError with the log's tail otherwise."""
    install_gateway()
    cmd = [str(binary()), "--host", "127.0.0.1", "--port", str(port), "--worker-urls", *workers,
           "--policy", policy,
           # its Prometheus exporter listens on a fixed port (29000) otherwise: a second gateway fails
           "--prometheus-host", "127.0.0.1", "--prometheus-port", str(free_port()), *args]
    log = home.run_dir() / f"gateway-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True)
    server._CHILDREN[child.pid] = child
    gw = Gateway("vllm-router", port, child.pid, procs.start_time(child.pid) or 0, log, command=cmd,
                 workers=tuple(workers), policy=policy)
    deadline = time.monotonic() + timeout
    while not gw.healthy():
        if child.poll() is not None or time.monotonic() > deadline:
            gw.stop()
            tail = "\n".join(gw.log_text().splitlines()[-30:])
            raise RuntimeError(f"vllm-router on port {port} did not become healthy:\n{tail}")
        time.sleep(0.2)
    return gw

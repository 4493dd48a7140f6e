"""Real-vLLM integration tier: start real ``vllm serve`` variants on demand.

Everything collected under ``tests/integration`` is marked ``vllm`` (the default ``addopts``
deselect it; run with ``python3 dev.py integration`` or ``pytest -m vllm tests/integration``).

Servers come from the project's harness (``tests/integration/harness``: it installs vLLM,
builds the tiny model and starts / stops servers by PID). A variant is started the first time
a test asks for it, kept running while tests of the same variant run (tests are sorted by
variant), and stopped when a different variant needs the slot (at most
``VLLM_IT_MAX_SERVERS``, default 1, of ours run at once). All of them are stopped at the end
of the session.

Fixtures (function-scoped, cheap: they return the running server or start it):
``vllm_plain``, ``vllm_apikey``, ``vllm_responses``, ``vllm_hermes``, ``vllm_r1``, ``vllm_r1_sor``, ``vllm_qwen3``,
``vllm_embed``, ``vllm_classify``, ``vllm_crossenc`` (one per row of harness/variants.py), and
``vllm_server`` (a factory: ``vllm_server("hermes")``), ``vllm_servers`` (``vllm_servers("plain", 2)``:
replicas of one variant, for one client over several servers). Each gives running :class:`RealServer` objects.

Environment knobs:
  VLLM_IT_HOME           the harness's venv, model and server logs (default ~/.cache/vllm-client/real-vllm)
  VLLM_IT_PORTS          port range for our servers, "8021-8029" (default)
  VLLM_IT_MAX_SERVERS    how many of this session's servers may run at once (default 1)
  VLLM_IT_MACHINE_MAX    wait while this many real servers (anyone's) are up (default 2)
  VLLM_IT_SLOT_WAIT      how long to wait for such a slot, seconds (default 600)
  VLLM_IT_OWNER          tag the servers we start with this (default: one per session);
                         ``python3 -m tests.integration.harness down --owner TAG`` stops exactly
                         those (.ci/run does on exit, in case pytest dies)
  VLLM_IT_STRICT=1       never skip: a server that cannot be installed is a failure (CI sets it)
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import pytest

from vllm_client import AsyncVllmClient, VllmClient

from .harness import home, install, server
from .harness.variants import VARIANTS

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent

VARIANT_ORDER = list(VARIANTS)
#: fixture name -> variant
VARIANT_FIXTURES = {f"vllm_{v}": v for v in VARIANTS}

NETWORK_SKIP = "==== SKIPPED: real-vLLM integration tier: could not install vLLM (network) ===="


@dataclass(repr=False)
class RealServer(server.Server):
    """A running real vLLM server (harness Server) that also makes clients for itself."""

    def client(self, **kw: object) -> VllmClient:
        """A VllmClient for this server (generous default timeout: 2 shared cores)."""
        kw.setdefault("timeout", 120)
        return VllmClient(self.base_url, **kw)

    def aclient(self, **kw: object) -> AsyncVllmClient:
        """An AsyncVllmClient for this server."""
        kw.setdefault("timeout", 120)
        return AsyncVllmClient(self.base_url, **kw)


class ServerUnavailable(Exception):
    """The real server cannot run here (skip) -- as opposed to a failure (fail)."""


def _progress(msg: str) -> None:
    print(f"\n[real-vllm] {msg}", file=sys.__stderr__, flush=True)


class ServerManager:
    def __init__(self) -> None:
        lo, _, hi = os.environ.get("VLLM_IT_PORTS", "8021-8029").partition("-")
        self.ports = range(int(lo), int(hi or lo) + 1)
        self.max_servers = max(1, int(os.environ.get("VLLM_IT_MAX_SERVERS", "1")))
        self.machine_max = max(1, int(os.environ.get("VLLM_IT_MACHINE_MAX", "2")))
        self.slot_wait_s = float(os.environ.get("VLLM_IT_SLOT_WAIT", "600"))
        self.strict = os.environ.get("VLLM_IT_STRICT", "") not in ("", "0", "false")
        self.owner = os.environ.get("VLLM_IT_OWNER") or f"pytest-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.running: dict[str, RealServer] = {}  # insertion order = start order
        self.broken: dict[str, BaseException] = {}  # variant (or "*") -> why it cannot start
        self.history: list[str] = []
        self._ready = False
        self._lock = threading.Lock()

    # -- public

    def get(self, variant: str) -> RealServer:
        return self.get_many(variant, 1)[0]

    def get_many(self, variant: str, n: int) -> list[RealServer]:
        """``n`` running servers of ``variant`` (replicas ``variant``, ``variant#1``, ...), for
        tests of one client over several servers; other servers of ours make room."""
        if variant not in VARIANTS:
            raise KeyError(f"unknown real-vLLM variant {variant!r}; known: {VARIANT_ORDER}")
        keys = [variant if i == 0 else f"{variant}#{i}" for i in range(n)]
        with self._lock:
            for key in ("*", variant):
                if key in self.broken:
                    self._raise(self.broken[key])
            return [self._get_locked(variant, key, keep=keys) for key in keys]

    def _get_locked(self, variant: str, key: str, *, keep: list[str]) -> RealServer:
        srv = self.running.get(key)
        if srv is not None and srv.alive():
            return srv
        if srv is not None:  # died: restart it
            self.history.append(f"{key} on port {srv.port} died; restarting. Its log:\n{srv.log_tail(20)}")
            self._stop(srv)
        while len(self.running) >= max(self.max_servers, len(keep)):
            self._stop(next(s for k, s in self.running.items() if k not in keep))
        try:
            self._prepare()
            install.build_model(lambda _line: None, VARIANTS[variant].model)
            return self._start(variant, key)
        except ServerUnavailable as e:
            self.broken["*"] = e
            self._raise(e)
        except Exception as e:
            self.broken[variant] = e
            raise

    def stop_all(self) -> None:
        with self._lock:
            for srv in list(self.running.values()):
                self._stop(srv)

    # -- internals

    def _raise(self, e: BaseException) -> None:
        if isinstance(e, ServerUnavailable):
            if self.strict:
                pytest.fail(f"real vLLM unavailable and VLLM_IT_STRICT is set: {e}", pytrace=False)
            pytest.skip(str(e))
        pytest.fail(f"real vLLM server failed before: {e}", pytrace=False)

    def _prepare(self) -> None:
        """Install vLLM and build the model, once per session (cheap when done)."""
        if self._ready:
            return
        t0 = time.monotonic()
        if not install.installed():
            _progress(f"installing {install.VLLM_SPEC} into {home.venv_dir()} (first run: minutes)")
            lines: list[str] = []
            try:
                install.install(lines.append)
            except install.InstallError as e:
                if e.network:
                    raise ServerUnavailable(f"{NETWORK_SKIP}\n{e}") from e
                raise
            self.history.append(f"installed {install.VLLM_SPEC} in {time.monotonic() - t0:.0f} s")
        install.build_model(lambda _line: None)
        self._ready = True

    def _start(self, variant: str, key: str) -> RealServer:
        # Other pytest sessions on this machine may start servers too: the harness chooses the
        # port and launches under a machine-wide lock, and refuses (NoSlot) while
        # VLLM_IT_MACHINE_MAX servers (anyone's, e.g. one started by hand) are up.
        deadline = time.monotonic() + self.slot_wait_s
        waited = False
        while True:
            try:
                return self._start_on_a_free_port(variant, key)
            except server.NoSlot as e:
                others = [s for k, s in self.running.items() if k.partition("#")[0] != variant]
                if others:  # make room from our own servers rather than wait for ourselves
                    self._stop(others[0])
                    continue
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"waited {self.slot_wait_s:.0f} s for a free real-vLLM slot: {e} "
                        f"(VLLM_IT_MACHINE_MAX={self.machine_max})"
                    ) from e
                if not waited:
                    waited = True
                    msg = f"{variant}: waiting up to {self.slot_wait_s:.0f} s for a real-vLLM slot: {e}"
                    self.history.append(msg)
                    _progress(msg)
                time.sleep(3)

    def _start_on_a_free_port(self, variant: str, key: str) -> RealServer:
        for port in self.ports:
            try:
                started = server.start(variant, port, owner=self.owner, machine_max=self.machine_max)
            except server.PortBusy:
                continue
            srv = RealServer(**{f.name: getattr(started, f.name) for f in fields(started)})
            self.running[key] = srv
            self.history.append(f"started {key} on port {port} in {srv.startup_s:.1f} s ({srv.rss_mib()} MiB)")
            return srv
        raise RuntimeError(f"no free port in {self.ports.start}-{self.ports.stop - 1} for a real vLLM server")

    def _stop(self, srv: RealServer) -> None:
        t0 = time.monotonic()
        srv.stop()
        key = next((k for k, s in self.running.items() if s is srv), srv.variant)
        self.running.pop(key, None)
        self.history.append(f"stopped {key} on port {srv.port} in {time.monotonic() - t0:.1f} s")


_MANAGER: ServerManager | None = None


def manager() -> ServerManager:
    global _MANAGER
    if _MANAGER is None:
        _MANAGER = ServerManager()
    return _MANAGER


# --------------------------------------------------------------------------- hooks


def _in_this_dir(item: pytest.Item) -> bool:
    try:
        return Path(str(item.path)).resolve().is_relative_to(HERE)
    except (AttributeError, ValueError):
        return False


def _variant_rank(item: pytest.Item) -> int:
    names = getattr(item, "fixturenames", ())
    ranks = [VARIANT_ORDER.index(VARIANT_FIXTURES[n]) for n in names if n in VARIANT_FIXTURES]
    marker = item.get_closest_marker("vllm_variant")
    if marker is not None and marker.args and marker.args[0] in VARIANTS:
        ranks.append(VARIANT_ORDER.index(marker.args[0]))
    return min(ranks) if ranks else -1


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "vllm_variant(name): the real-vLLM variant a test uses (for ordering)")


@pytest.hookimpl(tryfirst=True)  # before the -m deselection of the mark plugin
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    ours = [it for it in items if _in_this_dir(it)]
    if not ours:
        return
    for it in ours:
        it.add_marker(pytest.mark.vllm)
    # group by variant so each server starts once (stable sort keeps file order within a variant)
    others = [it for it in items if not _in_this_dir(it)]
    items[:] = others + sorted(ours, key=_variant_rank)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _MANAGER is not None:
        _MANAGER.stop_all()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _MANAGER is not None and _MANAGER.history:
        terminalreporter.section("real vLLM servers")
        for line in _MANAGER.history:
            terminalreporter.write_line(line)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def _clean_vllm_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's VLLM_* environment must not leak into the clients the tests build."""
    for name in ("VLLM_BASE_URL", "VLLM_API_KEY", "VLLM_TIMEOUT", "VLLM_MAX_RETRIES"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def vllm_server() -> Callable[[str], RealServer]:
    """Factory: ``vllm_server("hermes")`` -> the running server of that variant."""
    return manager().get


@pytest.fixture
def vllm_servers() -> Callable[[str, int], list[RealServer]]:
    """Factory: ``vllm_servers("plain", 2)`` -> that many running servers of one variant
    (mark the test ``vllm_variant("plain")`` so it is ordered with that variant's tests)."""
    return manager().get_many


def _variant_fixture(variant: str) -> Callable[[], RealServer]:
    def fixture() -> RealServer:
        return manager().get(variant)

    fixture.__name__ = f"vllm_{variant}"
    fixture.__doc__ = f"The real vLLM server, variant {variant!r}: {VARIANTS[variant].purpose}"
    return pytest.fixture(name=f"vllm_{variant}")(fixture)


# vllm_plain, vllm_apikey, ...: one fixture per row of the variant table
for _variant in VARIANTS:
    globals()[f"vllm_{_variant}"] = _variant_fixture(_variant)

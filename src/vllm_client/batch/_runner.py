"""One batch run, everything but the sending (shared by the sync and async runners).

``open`` does all that can fail before a request goes out: the input is checked to be
JSONL, the output locked and its manifest read (:mod:`._state`), torn lines cut and the
done lines found (:mod:`._resume`). ``jobs`` then streams the input: each non-blank line
gets the next sequence number; a line done before is skipped, an invalid or repeated one
gets its error line at once, the rest become requests. ``finished`` turns each outcome
into its output line, and the reorder window (:mod:`._window`) hands lines to the writers
in input order. ``close`` flushes, puts a re-run output back in order, releases the lock
and returns the summary.

Per line the hot path is: one ``orjson.loads`` of the input line, a hash-table insert,
the client's call, one ``orjson.loads`` of the answer (it must be JSON to be spliced in,
and it has the token counts), one bytes format for the output line, and one ``os.write``
per batch of lines that end together.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .._config import Timeout, check_seconds
from .._dispatch.schedule import Timing
from ._files import InputReader, LineWriter, TooLong, is_gzip, scan_output
from ._lines import DUPLICATE, INVALID, Invalid, Request, custom_id_of, is_blank, parse_line
from ._output import answer_line, error_code, error_line, parse_id
from ._progress import ProgressSetting, Snapshot, make_progress
from ._resume import OutputScan
from ._rewrite import TMP_SUFFIX, drop_lines, sort_by_seq
from ._seen import SeenIds
from ._state import fingerprint, open_output
from ._summary import BatchSummary, Tally

__all__ = ["BatchRun", "Options", "Shard"]

_PROGRESS_EVERY = 0.2
_MAX_LINE = 64 << 20
_WINDOW_BYTES = 64 << 20


@dataclass(frozen=True)
class Options:
    """The keywords of ``run_batch`` (see its docstring)."""

    concurrency: int = 64
    ordered: bool = True
    resume: bool = True
    overwrite: bool = False
    errors_path: str | None = None
    timeout: float | None = None
    max_rate: float | None = None
    fsync: bool = False
    retry_failed: bool = False
    model: str | None = None
    window: int | None = None

    def __post_init__(self) -> None:
        c = self.concurrency
        if isinstance(c, bool) or not isinstance(c, int) or c < 1:
            raise ValueError(f"concurrency must be an integer >= 1, got {c!r}")
        object.__setattr__(self, "timeout", check_seconds("timeout", self.timeout))
        if self.max_rate is not None and not (isinstance(self.max_rate, (int, float)) and 0 < self.max_rate < 1e9):
            raise ValueError(f"max_rate must be a positive number of requests per second or None, "
                             f"got {self.max_rate!r}")
        if self.window is not None and self.window < 1:
            raise ValueError(f"window must be >= 1 lines, got {self.window!r}")
        if self.errors_path is not None:
            object.__setattr__(self, "errors_path", os.fspath(self.errors_path))

    @property
    def window_lines(self) -> int:
        return self.window or max(256, 4 * self.concurrency)

    def backstop(self) -> float | None:
        """The dispatcher's per-line limit: a little past the client's own ``total`` (which
        fires first, with a precise message), for what the client cannot bound itself."""
        return None if self.timeout is None else self.timeout * 1.05 + 1.0

    def call_timeout(self, default: Timeout) -> Timeout | None:
        return None if self.timeout is None else dataclasses.replace(default, total=self.timeout)


@dataclass(frozen=True)
class Shard:
    """A line-aligned byte range of the input (Ray runs one per task). ``first_seq`` and
    ``first_lineno`` number its first line as in the whole file; ``duplicates`` are the
    sequence numbers whose custom_id appeared earlier in the file (found by the driver)."""

    start: int = 0
    end: int | None = None
    first_seq: int = 0
    first_lineno: int = 1
    duplicates: frozenset[int] = frozenset()
    run_id: str | None = None


def count_lines(path: str, start: int = 0, end: int | None = None) -> int | None:
    """Newline count of a plain file's range (memory-speed, for the progress total); None
    for a gzip file (unknown without decompressing it)."""
    if is_gzip(path):
        return None
    n = 0
    last = b"\n"
    with open(path, "rb") as f:
        f.seek(start)
        remaining = None if end is None else end - start
        while remaining is None or remaining > 0:
            chunk = f.read(1 << 20 if remaining is None else min(1 << 20, remaining))
            if not chunk:
                break
            n += chunk.count(b"\n")
            last = chunk[-1:]
            if remaining is not None:
                remaining -= len(chunk)
    return n + (last != b"\n")


class BatchRun:
    def __init__(self, input_path: str | os.PathLike[str], output_path: str | os.PathLike[str], options: Options,
                 progress: ProgressSetting = None, shard: Shard | None = None) -> None:
        self.input_path = os.fspath(input_path)
        self.output_path = os.fspath(output_path)
        self.options = options
        self.shard = shard or Shard()
        self._progress_setting = progress
        self.tally = Tally()
        self._seen = SeenIds()
        self._max_seq: dict[str, int] = {}
        self._unsorted: set[str] = set()
        self.run_id = ""

    # -- before anything is sent ---------------------------------------------------------
    def open(self) -> None:
        opts = self.options
        self._check_paths()
        self._check_input()
        source: dict[str, Any] = fingerprint(self.input_path)
        if self.shard.start or self.shard.end is not None:
            source["range"] = [self.shard.start, self.shard.end]
        self.state = open_output(self.output_path, opts.errors_path, source, resume=opts.resume,
                                 overwrite=opts.overwrite, durable=opts.fsync, run_id=self.shard.run_id)
        try:
            self.run_id = self.state.run_id
            self.done = self._recover()
            from ._window import ReorderWindow

            self.window: ReorderWindow[tuple[int, bytes, str]] = ReorderWindow(
                ordered=opts.ordered, max_lines=opts.window_lines, max_bytes=_WINDOW_BYTES)
            self.writers = {path: LineWriter(path, durable=opts.fsync) for path in self._files()}
            lines = count_lines(self.input_path, self.shard.start, self.shard.end)
            self._todo = None if lines is None else max(0, lines - self.done.count)
            self.progress = make_progress(self._progress_setting)
        except BaseException:
            self.state.close()
            raise
        self.started = time.monotonic()
        self._last_progress = self.started

    def _files(self) -> list[str]:
        errors = self.options.errors_path
        return [self.output_path] if errors is None else [self.output_path, errors]

    def _check_paths(self) -> None:
        for out in self._files():
            if os.path.exists(out) and os.path.exists(self.input_path) and os.path.samefile(out, self.input_path):
                raise ValueError(f"the output {out!r} is the input file: choose another path")
        if self.options.errors_path is not None and os.path.abspath(self.options.errors_path) == os.path.abspath(
                self.output_path):
            raise ValueError("errors_path must differ from the output path")

    def _check_input(self) -> None:
        """A file that is not JSONL at all is an error before anything is sent (a bad line
        in a JSONL file is only that line's error)."""
        reader = InputReader(self.input_path, start=self.shard.start, end=self.shard.end,
                             first_lineno=self.shard.first_lineno, max_line=_MAX_LINE)
        try:
            for lineno, raw in reader:
                if isinstance(raw, TooLong) or not is_blank(raw):
                    if isinstance(raw, TooLong) or not raw.lstrip().startswith(b"{"):
                        raise ValueError(f"{self.input_path!r} is not JSONL in the OpenAI batch format: line "
                                         f"{lineno} is not a JSON object")
                    return
        except (OSError, EOFError) as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            raise ValueError(f"cannot read {self.input_path!r}: {exc}") from None
        except Exception as exc:  # zlib.error: not gzip data
            if type(exc).__module__ != "zlib":
                raise
            raise ValueError(f"{self.input_path!r} is not a gzip file ({exc}); name a plain file without .gz") from None

    def _recover(self) -> Any:
        """Cut torn lines, drop failed lines when re-running them, find what is done."""
        opts, run_id = self.options, self.run_id
        for path in self._files():
            tmp = path + TMP_SUFFIX
            if os.path.exists(tmp):
                os.unlink(tmp)  # a rewrite that a crash interrupted: the output itself is whole
        if opts.retry_failed:
            checker = OutputScan(run_id)
            for path in self._files():
                scan_output(path, OutputScan(run_id), durable=opts.fsync)

                def failed(line: bytes) -> bool:
                    found = checker.check(line)
                    return found is None or found[1]

                drop_lines(path, failed, durable=opts.fsync)
        scan = OutputScan(run_id)
        for path in self._files():
            scan_output(path, scan, durable=opts.fsync)
            self._max_seq[path] = scan.max_seq
            if not scan.sorted:
                self._unsorted.add(path)
        return scan.done

    # -- the source of requests ----------------------------------------------------------
    def has_room(self) -> bool:
        return self.window.has_room()

    def jobs(self) -> Iterator[Request | None]:
        """Requests to send, in input order; None for a line settled without one."""
        opts, tally, seen, done = self.options, self.tally, self._seen, self.done
        duplicates = self.shard.duplicates
        seq = self.shard.first_seq - 1
        reader = InputReader(self.input_path, start=self.shard.start, end=self.shard.end,
                             first_lineno=self.shard.first_lineno, max_line=_MAX_LINE)
        for lineno, raw in reader:
            if isinstance(raw, bytes) and is_blank(raw):
                continue
            seq += 1
            tally.total += 1
            if seq in done:
                tally.skipped += 1
                cid = custom_id_of(raw) if isinstance(raw, bytes) else None
                if cid is not None:
                    seen.add(cid)
                continue
            if isinstance(raw, TooLong):
                item: Request | Invalid = Invalid(seq, None, INVALID, f"line {lineno} is longer than {_MAX_LINE} bytes")
            else:
                item = parse_line(raw, seq, lineno)
            if item.custom_id is not None and (not seen.add(item.custom_id) or seq in duplicates):
                item = Invalid(seq, item.custom_id, DUPLICATE,
                               f"line {lineno}: custom_id {item.custom_id!r} appeared on an earlier line")
            self.window.admit(seq)
            if isinstance(item, Invalid):
                tally.invalid += 1
                self._put(seq, error_line(self.run_id, seq, item.custom_id, item.code, item.message), True)
                yield None
                continue
            if opts.model is not None and item.fill_model and "model" not in item.body:
                item.body["model"] = opts.model
            yield item

    # -- outcomes ------------------------------------------------------------------------
    def finished(self, job: Request, result: Any, error: BaseException | None, timing: Timing) -> None:
        tally = self.tally
        if error is None:
            status, request_id, body = result
            line, parsed = answer_line(self.run_id, job.seq, job.custom_id, status, request_id, body)
            failed = status >= 400
            if failed:
                tally.fail(f"http_{status}")
            else:
                tally.succeeded += 1
                tally.count_usage(parsed)
        else:
            code = error_code(error)
            if code is None:
                raise error  # not this line's failure: a bug or a misconfiguration ends the run
            line = error_line(self.run_id, job.seq, job.custom_id, code, str(error) or type(error).__name__)
            failed = True
            tally.fail(code)
        if timing.end is not None:
            tally.latency.add(timing.end - timing.start)
        self._put(job.seq, line, failed)

    def _put(self, seq: int, line: bytes, failed: bool) -> None:
        errors = self.options.errors_path
        target = errors if failed and errors is not None else self.output_path
        self.window.put(seq, (seq, line, target), len(line))
        for s, data, path in self.window.pop():
            self.writers[path].write(data)
            if s < self._max_seq[path]:
                self._unsorted.add(path)
            else:
                self._max_seq[path] = s

    def idle(self) -> None:
        """Between events: hand the finished lines to the OS, show progress."""
        for writer in self.writers.values():
            writer.flush()
        now = time.monotonic()
        if now - self._last_progress >= _PROGRESS_EVERY:
            self._last_progress = now
            self.progress.update(self.snapshot(now))

    def snapshot(self, now: float) -> Snapshot:
        t = self.tally
        return Snapshot(done=t.done, total=self._todo, failed=t.failed, invalid=t.invalid, skipped=t.skipped,
                        tokens=t.prompt_tokens + t.completion_tokens, elapsed=now - self.started)

    # -- the end ---------------------------------------------------------------------------
    def close(self, *, aborted: bool = False) -> BatchSummary:
        try:
            for writer in self.writers.values():
                writer.close()
            complete = self.tally.done + self.tally.skipped == self.tally.total
            if not aborted and complete and self.options.ordered:
                for path in sorted(self._unsorted):
                    sort_by_seq(path, self._seq_of, durable=self.options.fsync)
            summary = self.tally.summary(time.monotonic() - self.started, self.output_path, self.options.errors_path)
            self.progress.finish(None if aborted else summary)
            return summary
        finally:
            self.state.close()

    def _seq_of(self, line: bytes) -> int:
        from .._json import loads

        seq = parse_id(loads(line).get("id"), self.run_id)
        if seq is None:
            raise ValueError(f"not a record of run {self.run_id}: {line[:100]!r}")
        return seq

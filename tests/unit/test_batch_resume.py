"""The resume scan and torn-line repair: what an existing output holds, and where it is cut."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vllm_client.batch._files import InputReader, LineWriter, TooLong, scan_output
from vllm_client.batch._output import answer_line, error_line
from vllm_client.batch._resume import Bitmap, OutputScan, torn_tail

RUN = "run1"


def record(seq: int, failed: bool = False) -> bytes:
    if failed:
        return error_line(RUN, seq, f"c{seq}", "timeout", "slow")
    return answer_line(RUN, seq, f"c{seq}", 200, "rid", b'{"ok":true}')[0]


def test_bitmap() -> None:
    b = Bitmap()
    for n in (0, 7, 8, 1000, 7):
        b.add(n)
    assert b.count == 4 and 1000 in b and 999 not in b and 10**9 not in b
    b.discard(7)
    assert 7 not in b and b.count == 3


def test_torn_tail() -> None:
    assert torn_tail(b"a\nb\n") == 0 and torn_tail(b"a\nbc") == 2 and torn_tail(b"abc") == 3


def test_scan_counts_records_and_failures_and_rejects_repeats_and_other_runs() -> None:
    scan = OutputScan(RUN)
    assert scan.feed([record(0).rstrip(), record(2, failed=True).rstrip()])
    assert not scan.feed([record(2).rstrip()])  # seq 2 again
    assert not scan.feed([answer_line("other", 3, "c", 200, "r", b"{}")[0].rstrip()])
    assert not scan.feed([b'{"id": "vllm-batch-run1-4"}'])  # not a record
    assert not scan.feed([record(5).rstrip(), b"garbage"])  # a unit stands or falls together
    assert 5 not in scan.done
    assert scan.done.count == 2 and scan.failed == 1 and scan.sorted


def write(path: Path, lines: list[bytes]) -> None:
    w = LineWriter(path)
    for line in lines:
        w.write(line)
        w.flush(force=True)  # one gzip member per line: cuts can land inside any of them
    w.close()


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(0, 12), cut=st.floats(0, 1), gz=st.booleans())
def test_a_file_cut_at_any_byte_keeps_exactly_its_complete_records(tmp_path: Path, n: int, cut: float,
                                                                  gz: bool) -> None:
    path = tmp_path / ("out.jsonl.gz" if gz else "out.jsonl")
    path.unlink(missing_ok=True)
    lines = [record(s, failed=s % 3 == 0) for s in range(n)]
    write(path, lines)
    data = path.read_bytes()
    keep = int(len(data) * cut)
    path.write_bytes(data[:keep])
    scan = OutputScan(RUN)
    scan_output(path, scan)
    kept = gzip.decompress(path.read_bytes()) if gz else path.read_bytes()
    complete = [line for line in lines if line in kept]
    assert kept == b"".join(complete)  # a prefix of whole records, nothing torn
    assert scan.done.count == len(complete) and all(s in scan.done for s in range(len(complete)))
    if not gz:
        assert len(kept) == keep - torn_tail(data[:keep])  # cut just after the last newline


def test_garbage_in_the_middle_cuts_the_file_there(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(record(0) + b"\x00\x00\x00\n" + record(1))
    scan = OutputScan(RUN)
    assert scan_output(path, scan) > 0
    assert path.read_bytes() == record(0) and scan.done.count == 1


def test_an_out_of_order_file_is_noticed(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    write(path, [record(1), record(0)])
    scan = OutputScan(RUN)
    scan_output(path, scan)
    assert not scan.sorted and scan.max_seq == 1


def test_input_reader_plain_gz_ranges_and_long_lines(tmp_path: Path) -> None:
    text = b'{"a":1}\n\n' + b"x" * 50 + b'\n{"b":2}'
    plain = tmp_path / "in.jsonl"
    plain.write_bytes(text)
    got = list(InputReader(plain, max_line=20))
    assert [n for n, _ in got] == [1, 2, 3, 4]
    assert got[0][1] == b'{"a":1}' and got[1][1] == b"" and isinstance(got[2][1], TooLong) and got[3][1] == b'{"b":2}'
    zipped = tmp_path / "in.jsonl.gz"
    zipped.write_bytes(gzip.compress(text[:10]) + gzip.compress(text[10:]))  # two members
    assert [line for _, line in InputReader(zipped)] == [line for _, line in InputReader(plain)]
    start = text.index(b'{"b"')
    assert list(InputReader(plain, start=start, first_lineno=4)) == [(4, b'{"b":2}')]
    assert [json.loads(line) for _, line in InputReader(plain, end=8)] == [{"a": 1}]

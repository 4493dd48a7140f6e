"""Tests for the <think>...</think> splitter (vllm_client._protocol.think).

The central property: however the text is chunked, the concatenated reasoning
and content are the same and equal ``split_think`` of the whole text, pieces
are never empty, one call never emits two adjacent pieces of the same kind,
and nothing is held back that could not still become a tag.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vllm_client._protocol.think import PieceKind, ThinkTagSplitter, split_think

Pieces = list[tuple[PieceKind, str]]


def run(chunks: list[str], assume_open: bool = False) -> tuple[str, str, list[Pieces]]:
    """Feed chunks; return (reasoning, content, per-call outputs incl. flush)."""
    s = ThinkTagSplitter(assume_open=assume_open)
    calls = [s.feed(c) for c in chunks] + [s.flush()]
    for out in calls:
        assert all(text for _, text in out), out
        assert all(kind in ("reasoning", "content") for kind, _ in out), out
        assert all(a[0] != b[0] for a, b in itertools.pairwise(out)), f"unmerged: {out}"
    pieces = [p for out in calls for p in out]
    reasoning = "".join(t for k, t in pieces if k == "reasoning")
    content = "".join(t for k, t in pieces if k == "content")
    # Order: once content appears, reasoning never follows (one think block).
    kinds = [k for k, _ in pieces]
    if "content" in kinds:
        assert "reasoning" not in kinds[kinds.index("content") :], pieces
    return reasoning, content, calls


def whole(text: str, assume_open: bool = False) -> tuple[str, str]:
    r, c = split_think(text, assume_open=assume_open)
    return r or "", c or ""


# -- table ----------------------------------------------------------------------

CASES: list[tuple[str, str, bool, str | None, str | None]] = [
    # (id, text, assume_open, reasoning, content)
    ("basic", "<think>plan</think>answer", False, "plan", "answer"),
    ("newlines kept", "<think>\nplan\n</think>\n\nanswer", False, "\nplan\n", "\n\nanswer"),
    ("leading whitespace dropped", " \n\t<think>plan</think>answer", False, "plan", "answer"),
    ("no think", "just an answer", False, None, "just an answer"),
    ("no think, leading whitespace kept", "  answer", False, None, "  answer"),
    ("text before think", "hi <think>x</think>y", False, None, "hi <think>x</think>y"),
    ("later think is content", "a<think>b</think>", False, None, "a<think>b</think>"),
    ("second think block is content", "<think>a</think>b<think>c</think>d", False, "a", "b<think>c</think>d"),
    ("nested open in reasoning", "<think>a<think>b</think>c", False, "a<think>b", "c"),
    ("close without open is content", "a</think>b", False, None, "a</think>b"),
    ("unterminated", "<think>still thinking", False, "still thinking", None),
    ("empty think", "<think></think>answer", False, None, "answer"),
    ("only tags", "<think></think>", False, None, None),
    ("empty", "", False, None, None),
    ("whitespace only", " \n ", False, None, " \n "),
    ("thinking tag is not think", "<thinking>x</thinking>", False, None, "<thinking>x</thinking>"),
    ("partial open at end", "<th", False, None, "<th"),
    ("open prefix then text", "<thx", False, None, "<thx"),
    ("lt alone", "<", False, None, "<"),
    ("partial close at end", "<think>abc</th", False, "abc</th", None),
    ("close prefix then text", "<think>a</thx</think>b", False, "a</thx", "b"),
    ("lt in reasoning", "<think>a < b << c</think>d", False, "a < b << c", "d"),
    ("non-ascii", "<think>é✓🙂</think>ünï", False, "é✓🙂", "ünï"),
    ("r1: assume open", "plan</think>answer", True, "plan", "answer"),
    ("r1: unterminated", "still thinking", True, "still thinking", None),
    ("r1: explicit open stripped", "\n<think>plan</think>answer", True, "plan", "answer"),
    ("r1: leading whitespace is reasoning", "\nplan</think>answer", True, "\nplan", "answer"),
    ("r1: partial open flushed as reasoning", "<thi", True, "<thi", None),
    ("r1: immediate close", "</think>answer", True, None, "answer"),
]


@pytest.mark.parametrize(
    ("text", "assume_open", "reasoning", "content"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_table(text: str, assume_open: bool, reasoning: str | None, content: str | None) -> None:
    assert split_think(text, assume_open=assume_open) == (reasoning, content)
    # Every 2-way and 3-way split gives the same result, and so does char-by-char.
    for i in range(len(text) + 1):
        for j in range(i, len(text) + 1):
            r, c, _ = run([text[:i], text[i:j], text[j:]], assume_open=assume_open)
            assert (r or None, c or None) == (reasoning, content), (text[:i], text[i:j], text[j:])
    r, c, _ = run(list(text), assume_open=assume_open)
    assert (r or None, c or None) == (reasoning, content)


# -- streaming liveness: what is emitted when -----------------------------------------


def test_streaming_example() -> None:
    s = ThinkTagSplitter()
    assert s.feed("<thi") == []  # could still be the open tag
    assert s.feed("nk>Let me") == [("reasoning", "Let me")]
    assert s.in_reasoning
    assert s.feed(" think.</th") == [("reasoning", " think.")]  # "</th" held back
    assert s.feed("ink>\n\nThe answer") == [("content", "\n\nThe answer")]
    assert not s.in_reasoning
    assert s.feed(" is 42.") == [("content", " is 42.")]
    assert s.flush() == []


def test_tag_and_text_in_one_feed_are_merged_per_kind() -> None:
    s = ThinkTagSplitter()
    assert s.feed("<think>a</think>b") == [("reasoning", "a"), ("content", "b")]
    s = ThinkTagSplitter()
    assert s.feed("<th") == []
    assert s.feed("x") == [("content", "<thx")]  # held prefix + new text: one piece


def test_no_think_holds_back_only_a_tag_prefix() -> None:
    s = ThinkTagSplitter()
    assert s.feed("Hello") == [("content", "Hello")]
    assert s.feed(" <think>") == [("content", " <think>")]  # decided: no think block
    s = ThinkTagSplitter()
    assert s.feed("<") == []
    assert s.flush() == [("content", "<")]
    s = ThinkTagSplitter()
    assert s.feed("  ") == []  # leading whitespace: a <think> may still follow
    assert s.feed("<thin") == []
    assert s.flush() == [("content", "  <thin")]


def test_content_is_never_held_after_decision() -> None:
    s = ThinkTagSplitter()
    s.feed("<think>x</think>")
    assert s.feed("a<") == [("content", "a<")]
    assert s.feed("</thi") == [("content", "</thi")]
    assert s.flush() == []


def test_reasoning_holds_back_only_close_tag_prefix() -> None:
    s = ThinkTagSplitter()
    s.feed("<think>")
    assert s.feed("a<") == [("reasoning", "a")]
    assert s.feed("b") == [("reasoning", "<b")]
    assert s.feed("<thi") == [("reasoning", "<thi")]  # "<thi" cannot start "</think>"
    assert s.feed("</") == []
    assert s.flush() == [("reasoning", "</")]


def test_unterminated_think_flush() -> None:
    s = ThinkTagSplitter()
    assert s.feed("<think>abc") == [("reasoning", "abc")]
    assert s.flush() == []
    s = ThinkTagSplitter()
    assert s.feed("<think>abc</think") == [("reasoning", "abc")]
    assert s.flush() == [("reasoning", "</think")]
    assert s.flush() == []  # idempotent


def test_assume_open_streaming() -> None:
    s = ThinkTagSplitter(assume_open=True)
    assert s.feed("Okay") == [("reasoning", "Okay")]
    assert s.feed(", so</") == [("reasoning", ", so")]
    assert s.feed("think>Answer") == [("content", "Answer")]


def test_assume_open_leading_open_tag_held_then_stripped() -> None:
    s = ThinkTagSplitter(assume_open=True)
    assert s.feed("<think") == []
    assert s.feed(">\nx") == [("reasoning", "\nx")]


def test_custom_tags() -> None:
    s = ThinkTagSplitter("<reasoning>", "</reasoning>")
    assert s.feed("<reasoning>r</reasoning>c") == [("reasoning", "r"), ("content", "c")]
    assert split_think("[T]r[/T]c", open_tag="[T]", close_tag="[/T]") == ("r", "c")
    with pytest.raises(ValueError):
        ThinkTagSplitter("", "</x>")


def test_self_overlapping_close_tag() -> None:
    # A tag whose prefix repeats inside it: holding back must use the longest
    # suffix that is a tag prefix ("aab" after "aa" must keep both a's).
    text = "<x>1aaab2"
    assert split_think(text, open_tag="<x>", close_tag="aab") == ("1a", "2")
    for i in range(len(text) + 1):
        s = ThinkTagSplitter("<x>", "aab")
        pieces = s.feed(text[:i]) + s.feed(text[i:]) + s.flush()
        assert "".join(t for k, t in pieces if k == "reasoning") == "1a"
        assert "".join(t for k, t in pieces if k == "content") == "2"


def test_every_split_point_of_a_sample() -> None:
    text = "\n<think>\nThe user asks 2+2 <b>.\nSo 4.\n</think>\n\nThe answer is 4 </think> <think>."
    expected = ("\nThe user asks 2+2 <b>.\nSo 4.\n", "\n\nThe answer is 4 </think> <think>.")
    assert split_think(text) == expected
    for i in range(len(text) + 1):
        for j in range(i, len(text) + 1):
            r, c, _ = run([text[:i], text[i:j], text[j:]])
            assert (r, c) == expected


# -- property tests -------------------------------------------------------------------

TOKENS = st.sampled_from(
    ["<think>", "</think>", "<", "</", "<th", "think>", ">", "<thinking>", " ", "\n", "a", "é", "🙂", "x y"]
)
TEXTS = st.lists(TOKENS, max_size=25).map("".join) | st.text(max_size=40)


@given(text=TEXTS, cuts=st.lists(st.integers(0, 200), max_size=10), assume_open=st.booleans())
@settings(max_examples=1500)
def test_property_rechunking_invariant(text: str, cuts: list[int], assume_open: bool) -> None:
    bounds = [0, *sorted({c for c in cuts if c <= len(text)}), len(text)]
    chunks = [text[a:b] for a, b in itertools.pairwise(bounds)]
    r, c, _ = run(chunks, assume_open=assume_open)
    assert (r, c) == whole(text, assume_open=assume_open)


@given(text=TEXTS, assume_open=st.booleans())
@settings(max_examples=500)
def test_property_nothing_lost(text: str, assume_open: bool) -> None:
    """Output + removed tags + dropped leading whitespace == input."""
    r, c = whole(text, assume_open=assume_open)
    stripped = text.lstrip()
    if stripped.startswith("<think>"):
        rest = stripped[len("<think>") :]
        opened = True
    else:
        rest = text
        opened = assume_open
    if opened:
        before, tag, after = rest.partition("</think>")
        assert (r, c) == (before, after) if tag else (rest, "")
    else:
        assert (r, c) == ("", text)


@given(text=TEXTS, assume_open=st.booleans())
@settings(max_examples=500)
def test_property_char_by_char_is_live(text: str, assume_open: bool) -> None:
    """Fed one char at a time, held-back text is always a possible tag start.

    (White-box: reads the splitter's hold buffer.)
    """
    s = ThinkTagSplitter(assume_open=assume_open)
    for i, ch in enumerate(text, 1):
        s.feed(ch)
        held = s._held
        assert text[:i].endswith(held)
        if s.in_reasoning:
            assert "</think>".startswith(held) and held != "</think>", (text[:i], held)
        elif held:  # still at the start: whitespace + a proper open-tag prefix
            assert "<think>".startswith(held.lstrip()) and held.lstrip() != "<think>", (text[:i], held)

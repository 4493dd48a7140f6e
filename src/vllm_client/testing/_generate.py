"""Deterministic "model": tokens from a fixed word list, sampled by a seeded PRNG.

The emulator has no model, yet tests need answers that are stable (the same request
always gets the same text), that look like text, and that react to the sampling
parameters a client sends (max_tokens, stop, stop_token_ids, ignore_eos, n, seed).
Everything here is pure: request values in, token lists out.
"""

from __future__ import annotations

import math
import random
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# The vocabulary: every entry is one token; ids are TOKEN_ID_BASE + position.
VOCAB: tuple[str, ...] = (
    " the",
    " a",
    " model",
    " server",
    " token",
    " answer",
    " is",
    " of",
    " and",
    " to",
    " in",
    " that",
    " it",
    " for",
    " with",
    " on",
    " this",
    " fast",
    " quiet",
    " bright",
    " river",
    " mountain",
    " city",
    " Paris",
    " France",
    " capital",
    " cloud",
    " engine",
    " stream",
    " request",
    " reply",
    " simple",
    " small",
    " large",
    " blue",
    " green",
    " data",
    " value",
    " result",
    " question",
    " world",
    " hello",
    " test",
    " vector",
    " cache",
    " batch",
    " prefix",
    " kernel",
    " memory",
    " layer",
    " weight",
    " sample",
    " seed",
    " text",
    " word",
    " line",
    " story",
    " time",
    " day",
    " night",
    " light",
    ",",
    ".",
    ";",
    ":",
    "!",
    "?",
    " (",
    ")",
    " -",
    " 42",
    " 7",
    " 2024",
    "\n",
)
TOKEN_ID_BASE = 1000
EOS_TOKEN_ID = 151645
# The chat template's special tokens, as a Qwen tokenizer numbers them.
SPECIAL_TOKENS = {EOS_TOKEN_ID - 1: "<|im_start|>", EOS_TOKEN_ID: "<|im_end|>"}
_VOCAB_INDEX = {text: i for i, text in enumerate(VOCAB)}
_SEEN: dict[int, str] = {}  # hashed ids of text outside the vocabulary, for detokenize
_PIECE_RE = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")


def token_id(text: str) -> int:
    """The id of a token text: vocabulary ids for known words, a stable hash otherwise."""
    idx = _VOCAB_INDEX.get(text)
    if idx is not None:
        return TOKEN_ID_BASE + idx
    tid = 5000 + zlib.crc32(text.encode()) % 100_000
    if len(_SEEN) < 100_000:
        _SEEN.setdefault(tid, text)
    return tid


def token_text(tid: int) -> str:
    """The text of a token id (ids of text seen by this process included), else `<id>`."""
    idx = tid - TOKEN_ID_BASE
    if 0 <= idx < len(VOCAB):
        return VOCAB[idx]
    return SPECIAL_TOKENS.get(tid) or _SEEN.get(tid, f"<{tid}>")


def split_pieces(text: str) -> list[str]:
    """Split text into token-like pieces whose concatenation is exactly `text`."""
    return _PIECE_RE.findall(text)


def count_tokens(text: str) -> int:
    return len(split_pieces(text))


def prompt_token_ids(text: str) -> list[int]:
    return [token_id(p) for p in split_pieces(text)]


# The chat template overhead, roughly what a ChatML template adds around each message.
_PER_MESSAGE_OVERHEAD = 5
_GENERATION_PROMPT_OVERHEAD = 3


def message_text(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, dict):
                if isinstance(part.get("text"), str):
                    texts.append(part["text"])
                elif part.get("type") in ("image_url", "input_audio", "video_url", "image"):
                    texts.append(" <image>")
        return "".join(texts)
    return ""


def render_chat_prompt(messages: Sequence[Any]) -> str:
    """A ChatML-like rendering used for prompt token counting and seeding."""
    out = []
    for m in messages:
        if not isinstance(m, dict):
            continue
        out.append(f"<|{m.get('role', '')}|>{message_text(m.get('content'))}")
        if m.get("tool_calls"):
            out.append(str(m["tool_calls"]))
    return "\n".join(out)


def render_chatml(messages: Sequence[Any], add_generation_prompt: bool = True) -> str:
    """The prompt as a ChatML template renders it (what `return_prompt_text` shows)."""
    out = [
        f"<|im_start|>{m.get('role', '')}\n{message_text(m.get('content'))}<|im_end|>\n"
        for m in messages
        if isinstance(m, dict)
    ]
    if add_generation_prompt:
        out.append("<|im_start|>assistant\n")
    return "".join(out)


def chat_prompt_tokens(messages: Sequence[Any], tools: Sequence[Any] | None = None) -> list[int]:
    ids: list[int] = []
    if tools:
        ids.extend(prompt_token_ids(str(tools)))
    for m in messages:
        if not isinstance(m, dict):
            continue
        ids.extend([EOS_TOKEN_ID - 1] * (_PER_MESSAGE_OVERHEAD - 1))
        ids.extend(prompt_token_ids(message_text(m.get("content"))))
        ids.append(EOS_TOKEN_ID)
    ids.extend([EOS_TOKEN_ID - 1] * _GENERATION_PROMPT_OVERHEAD)
    return ids


def make_rng(seed: int | None, prompt_text: str, choice: int) -> random.Random:
    """One PRNG per choice: seeded by `seed` when given (like vLLM, the prompt then does
    not matter), else by the prompt text, so identical requests give identical text."""
    base = f"seed:{seed}" if seed is not None else f"prompt:{zlib.crc32(prompt_text.encode())}"
    return random.Random(f"{base}:{choice}")


@dataclass
class Generation:
    """One choice's output: the emitted token texts/ids and why it ended.

    `pieces` are the texts streamed one per chunk (their concatenation is `text`);
    `completion_tokens` counts every sampled token, including a stop token that was
    not emitted.
    """

    pieces: list[str]
    ids: list[int]
    finish_reason: str
    stop_reason: str | int | None = None
    completion_tokens: int = 0
    logprobs: list[float] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.pieces)


@dataclass(frozen=True)
class SamplingOptions:
    """The sampling parameters the emulator honours."""

    max_tokens: int
    natural_stop: bool = False  # the model may end on its own (EOS) before max_tokens
    min_tokens: int = 0
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    include_stop_str_in_output: bool = False
    ignore_eos: bool = False
    eos_probability: float = 0.0


_WORDS = tuple(t for t in VOCAB if t.strip().isalnum())
_PUNCT = tuple(t for t in VOCAB if not t.strip().isalnum())


def sample_token(rng: random.Random) -> str:
    """Mostly words, now and then punctuation, like text."""
    if rng.random() < 0.85:
        return _WORDS[rng.randrange(len(_WORDS))]
    return _PUNCT[rng.randrange(len(_PUNCT))]


def _logprob(rng: random.Random) -> float:
    return -round(rng.random() * 3 + 0.01, 6)


def generate(rng: random.Random, opts: SamplingOptions) -> Generation:
    """Sample tokens until max_tokens, EOS, a stop token id or a stop string."""
    natural_len = rng.randint(6, 14) if opts.natural_stop else None
    pieces: list[str] = []
    ids: list[int] = []
    lps: list[float] = []
    text = ""
    for step in range(opts.max_tokens):
        can_eos = not opts.ignore_eos and step >= opts.min_tokens
        if can_eos and (
            (natural_len is not None and step >= natural_len)
            or (opts.eos_probability > 0 and rng.random() < opts.eos_probability)
        ):
            return Generation(pieces, ids, "stop", None, step + 1, lps)
        piece = sample_token(rng)
        tid = token_id(piece)
        if tid in opts.stop_token_ids and step >= opts.min_tokens:
            return Generation(pieces, ids, "stop", tid, step + 1, lps)
        before = len(text)
        text += piece
        hit = _find_stop(text, before, opts.stop) if step + 1 >= opts.min_tokens else None
        if hit is not None:
            pos, stop = hit
            end = pos + len(stop) if opts.include_stop_str_in_output else pos
            kept = text[before:end] if end > before else ""
            if end < before:  # the stop string began inside earlier pieces: trim them
                pieces, kept = _trim_pieces(pieces, end), ""
            pieces.append(kept)
            ids.append(tid)
            lps.append(_logprob(rng))
            return Generation(pieces, ids, "stop", stop, step + 1, lps)
        pieces.append(piece)
        ids.append(tid)
        lps.append(_logprob(rng))
    return Generation(pieces, ids, "length", None, opts.max_tokens, lps)


def _find_stop(text: str, new_from: int, stops: Sequence[str]) -> tuple[int, str] | None:
    best: tuple[int, str] | None = None
    for s in stops:
        if not s:
            continue
        pos = text.find(s, max(0, new_from - len(s) + 1))
        if pos >= 0 and (best is None or pos < best[0]):
            best = (pos, s)
    return best


def _trim_pieces(pieces: list[str], end: int) -> list[str]:
    """Cut the pieces so they spell text[:end], keeping one (maybe empty) piece per token."""
    out: list[str] = []
    total = 0
    for p in pieces:
        keep = max(0, min(len(p), end - total))
        out.append(p[:keep])
        total += keep
    return out


def scripted(text: str) -> Generation:
    """A fixed text turned into pieces, as if the model had sampled exactly it."""
    pieces = split_pieces(text)
    return Generation(pieces, [token_id(p) for p in pieces], "stop", None, len(pieces), [-0.01] * len(pieces))


def top_alternatives(rng_seed: str, chosen: str, chosen_lp: float, k: int) -> list[tuple[str, float]]:
    """`k` (token, logprob) pairs, the chosen token first, then less likely ones."""
    rng = random.Random(rng_seed)
    out = [(chosen, chosen_lp)]
    lp = chosen_lp
    while len(out) < k:
        cand = VOCAB[rng.randrange(len(VOCAB))]
        if any(cand == t for t, _ in out):
            continue
        lp = round(lp - rng.random() - 0.05, 6)
        out.append((cand, lp))
    return out


# --- structured outputs -------------------------------------------------------------

_REGEX_META = set("[](){}*+?|^$.")


def literal_from_regex(pattern: str) -> str | None:
    """The one string a regex matches when it is a plain (escaped) literal, else None."""
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt.isalnum():
                mapped = {"n": "\n", "t": "\t"}.get(nxt)
                if mapped is None:
                    return None
                out.append(mapped)
            else:
                out.append(nxt)
            i += 2
            continue
        if c in _REGEX_META:
            return None
        out.append(c)
        i += 1
    return "".join(out)


def instance_for_schema(schema: Any, rng: random.Random, depth: int = 0) -> Any:
    """A small value satisfying simple JSON schemas (types, enum, const, required, ...)."""
    if not isinstance(schema, dict) or depth > 8:
        return None
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][rng.randrange(len(schema["enum"]))]
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return instance_for_schema(schema[key][0], rng, depth + 1)
    typ = schema.get("type")
    if isinstance(typ, list):
        typ = next((t for t in typ if t != "null"), typ[0] if typ else None)
    if typ is None and "properties" in schema:
        typ = "object"
    if typ == "object":
        props = schema.get("properties") or {}
        required = schema.get("required")
        names = list(props) if required is None else [n for n in props if n in required]
        names += [n for n in (required or []) if n not in props]
        return {n: instance_for_schema(props.get(n, {"type": "string"}), rng, depth + 1) for n in names}
    if typ == "array":
        n = max(int(schema.get("minItems", 1)), 0)
        return [instance_for_schema(schema.get("items", {"type": "string"}), rng, depth + 1) for _ in range(n)]
    if typ == "integer":
        lo = schema.get("minimum", 0)
        hi = schema.get("maximum", max(lo, 0) + 100)
        return rng.randint(math.ceil(lo), int(hi)) if hi >= lo else int(lo)
    if typ == "number":
        lo = float(schema.get("minimum", 0.0))
        return round(lo + rng.random() * 10, 2)
    if typ == "boolean":
        return rng.random() < 0.5
    if typ == "null":
        return None
    words = "".join(VOCAB[rng.randrange(40)] for _ in range(2)).strip()
    max_len = schema.get("maxLength")
    if isinstance(max_len, int):
        words = words[:max_len]
    min_len = schema.get("minLength")
    if isinstance(min_len, int) and len(words) < min_len:
        words = words + "x" * (min_len - len(words))
    return words

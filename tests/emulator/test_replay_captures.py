"""Every real vLLM 0.32 capture, replayed against MockVllmServer.

For each capture in tests/fixtures/real-vllm-0.32 the emulator is started the way the real
server was (the capture's ``server_variant``: API key, tool parser, reasoning parser, pooling
task), the captured request (method, path, headers, body bytes) is sent over a real socket,
and the answer is compared with the captured one (a capture of one step of a stateful exchange
gets an emulator of its own, in that state: ``STATE``, ``PRELUDE``):

* always: the status and the response header names in wire order, with the values of the
  headers a client acts on (content-type, allow, x-request-id);
* errors: the body's key shape, the error ``type``, ``param`` and ``code``, and the message
  (exactly, unless ``MESSAGE_VARIES`` says why it cannot be); string errors
  (``{"error": "Unauthorized"}``) and FastAPI's ``{"detail": ...}`` byte for byte;
* successes: the key shape of the body (see ``key_shape``), and for SSE streams the
  stream shape (see ``stream_shape``): event kinds in order, each kind's key shape, and
  the terminator.

The model behind the captures has random weights, so text, token counts and how often a
thing repeats are noise: ``key_shape`` and ``stream_shape`` ignore them by definition. What
the random model did that decides more than that is either asked of the emulated model too
(``server_options``: it never ends its reasoning unless the request biases ``</think>``), or
left out of the comparison where it shows, with the reason: ``loose_paths`` (values whose
JSON type is the model's pick, per request feature), ``MESSAGE_VARIES`` (a clock in an error
message) and ``ENVELOPE_ONLY`` (two captures of a random model's failure mode, compared
without their choices).

``test_not_captured`` adds what vLLM is known to answer but no capture holds (issue 7).
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vllm_client.testing import MockVllmServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "golden"))
from golden_fixtures import FIXTURES_DIR, fixture_names, load_fixture, request_bytes, request_json, response_bytes

# --- how each capture's server was started --------------------------------------------------

SERVER_VARIANTS: dict[str, dict[str, Any]] = {
    # Every variant: `vllm serve ... --served-model-name tiny --max-model-len 2048`, plus:
    "plain": {"task": "generate", "tool_parser": None},
    "apikey": {"task": "generate", "tool_parser": None, "api_key": "test-key"},  # --api-key test-key
    "hermes": {"task": "generate", "tool_parser": "hermes"},  # --enable-auto-tool-choice --tool-call-parser hermes
    "r1": {"task": "generate", "tool_parser": None, "reasoning": "deepseek_r1"},  # --reasoning-parser deepseek_r1
    "r1_sor": {"task": "generate", "tool_parser": None, "reasoning": "deepseek_r1", "structured_in_reasoning": True},
    "qwen3": {"task": "generate", "tool_parser": None, "reasoning": "qwen3"},
    # VLLM_ALLOW_RUNTIME_LORA_UPDATING=True --enable-lora --max-lora-rank 8 --enable-scale-out ...
    "extras": {"task": "generate", "tool_parser": None, "max_lora_rank": 8, "scale_out": True},
    # a tiny Whisper: --served-model-name whisper --max-model-len 16
    "whisper": {"task": "transcription", "model": "whisper", "max_model_len": 16},
    "embed": {"task": "embed", "tokenizer_info": False},  # --runner pooling --convert embed
    "classify": {"task": "classify", "num_labels": 2},  # --runner pooling --convert classify
    "crossenc": {"task": "classify", "num_labels": 1},  # ... --hf-overrides {"num_labels": 1}
    "responses": {"task": "generate", "tool_parser": None, "responses_store": True},  # VLLM_ENABLE_RESPONSES_API_STORE=1
    "otel": {"task": "generate", "tool_parser": None},  # --otlp-traces-endpoint (spans are not the emulator's)
}

CAPTURES = [n for n in fixture_names() if not n.startswith("_")]

# Captures of one step of a stateful exchange (adapters loaded before it): what the server held
# then. Each gets an emulator of its own, started in that state.
_ONE_ADAPTER = ("lora_chat", "lora_load_twice", "lora_models", "lora_unload")
STATE: dict[str, dict[str, Any]] = {
    **{name: {"lora_modules": {"sql": "/adapters/sql"}} for name in _ONE_ADAPTER},
    **{name: {} for name in ("lora_load", "lora_unload_unknown", "lora_load_rank_too_big")},
    **{name: {} for name in ("responses_store_retrieve", "responses_store_cancel_finished", "responses_store_replay")},
}
# Captures that act on a response another capture created (by its fixed request_id): that
# capture's request is sent to the capture's own emulator first, and read to the end.
PRELUDE = {
    "responses_store_retrieve": "responses_store_create",
    "responses_store_cancel_finished": "responses_store_create",
    "responses_store_replay": "responses_store_background_stream",
}
# Captures whose request names a file of the capturing machine (a LoRA adapter directory): the
# replay writes its own (adapter_config.json of this rank) and sends that path instead.
LOCAL_ADAPTERS = {"lora_load": 8, "lora_load_rank_too_big": 16}

# Headers a client acts on: their values must match, not just their presence.
VALUE_HEADERS = ("content-type", "allow", "x-request-id")

THINK_END_TOKEN = "4091"  # `</think>` in the tiny model's tokenizer


def server_options(fx: dict[str, Any]) -> dict[str, Any]:
    """MockVllmServer's arguments for a capture: its server variant, plus what the random
    model did that the emulated one must do too:

    * the random model never emits `</think>` by itself, so its reasoning runs to max_tokens,
      unless the request puts a positive logit_bias on that token: then it closes after a
      few tokens (the emulator's default);
    * chat_stream_client_disconnect needs a stream slow enough to be cut mid-way.
    """
    opts: dict[str, Any] = {"model": "tiny", "max_model_len": 2048, "request_id_headers": False, "max_num_seqs": 8,
                            "scale_out": False}
    opts.update(SERVER_VARIANTS[fx["server_variant"]])
    if opts.get("reasoning"):
        bias = (request_json(fx) or {}).get("logit_bias") or {}
        opts["think_tokens"] = None if bias.get(THINK_END_TOKEN, 0) > 0 else 10**9
    if "raw_wire" in fx["response"]:
        opts["token_rate"] = 1000.0
    opts.update(STATE.get(fx["scenario"], {}))
    return opts


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, MockVllmServer]]:
    """One emulator per distinct configuration, started on first use."""
    started: dict[str, MockVllmServer] = {}
    yield started
    for server in started.values():
        server.stop()


def server_for(servers: dict[str, MockVllmServer], fx: dict[str, Any]) -> MockVllmServer:
    opts = server_options(fx)
    key = repr(sorted(opts.items())) + (fx["scenario"] if fx["scenario"] in STATE else "")
    if key not in servers:
        servers[key] = MockVllmServer(**opts).start()
    return servers[key]


# --- the one definition of "key shape" ------------------------------------------------------

# Objects keyed by data rather than by field names: their keys are token texts or ids.
MAP_KEYS = ("top_logprobs", "logit_bias")
_DIGITS = re.compile(r"-?\d+")


def key_shape(value: Any, path: str = "$", loose: frozenset[str] = frozenset()) -> Any:
    """The key shape of a JSON value: what it has, not what it says.

    * an object: ``("{}", ((key, shape), ...))``, keys in wire order;
    * a map (an object keyed by data: under a ``MAP_KEYS`` name, or every key an integer,
      like ``prompt_logprobs`` entries keyed by token id): ``("map", joined value shapes)``;
    * an array: ``("[]", joined element shapes)``: lengths are ignored, and so are the
      differences between elements that ``join`` merges, so two arrays agree when they hold
      the same kinds of elements (an empty array holds none);
    * a scalar: its JSON type, ``"str"``, ``"int"``, ``"float"``, ``"bool"`` or ``"null"``;
    * anything at a path in ``loose``: ``"any"``.

    Paths are ``$`` for the root, ``.key`` for an object member and ``[]`` for any element
    or map value (``$.choices[].message.content``).
    """
    if path in loose:
        return "any"
    if isinstance(value, dict):
        leaf = path.rsplit(".", 1)[-1].removesuffix("[]")
        if value and (leaf in MAP_KEYS or all(_DIGITS.fullmatch(k) for k in value)):
            return ("map", join(key_shape(v, path + "[]", loose) for v in value.values()))
        return ("{}", tuple((k, key_shape(v, f"{path}.{k}", loose)) for k, v in value.items()))
    if isinstance(value, list):
        return ("[]", join(key_shape(v, path + "[]", loose) for v in value))
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "str"


def join(shapes: Iterator[Any]) -> tuple[Any, ...]:
    """The shapes of an array's elements as a sorted tuple of distinct shapes, where shapes
    that differ only inside arrays are merged: objects with the same keys merge member by
    member, arrays (and maps) merge their element shapes. So ``[{"bytes": [1]}, {"bytes": []}]``
    is one kind of element (an empty array is a possible value of any array), while
    ``[null, {...}]`` stays two."""
    out: list[Any] = []
    for shape in shapes:
        for i, seen in enumerate(out):
            merged = _merge(seen, shape)
            if merged is not None:
                out[i] = merged
                break
        else:
            out.append(shape)
    return tuple(sorted(out, key=repr))


def _merge(a: Any, b: Any) -> Any:
    if a == b:
        return a
    if not (isinstance(a, tuple) and isinstance(b, tuple) and a[0] == b[0]):
        return None
    if a[0] in ("[]", "map"):
        return (a[0], join(iter((*a[1], *b[1]))))
    keys_a, keys_b = [k for k, _ in a[1]], [k for k, _ in b[1]]
    if keys_a != keys_b:
        return None
    members = []
    for (k, x), (_, y) in zip(a[1], b[1], strict=True):
        m = _merge(x, y)
        if m is None:
            return None
        members.append((k, m))
    return ("{}", tuple(members))


def first_difference(ours: Any, real: Any, where: str = "$") -> str | None:
    """Where two shapes (of ``key_shape`` or ``stream_shape``) first differ, for messages."""
    if ours == real:
        return None
    if isinstance(ours, dict) and isinstance(real, dict):
        for k in {**real, **ours}:
            if ours.get(k) != real.get(k):
                return first_difference(ours.get(k), real.get(k), f"{where}.{k}")
    if isinstance(ours, (tuple, list)) and isinstance(real, (tuple, list)):
        if len(ours) == 2 and len(real) == 2 and ours[0] == real[0] == "{}":
            o, r = dict(ours[1]), dict(real[1])
            if list(o) != list(r):
                return f"{where}: keys {list(o)} != {list(r)}"
            return next(d for k in o if (d := first_difference(o[k], r[k], f"{where}.{k}")))
        for i, (a, b) in enumerate(zip(ours, real, strict=False)):
            if a != b:
                return first_difference(a, b, f"{where}[{i}]")
        return f"{where}: {len(ours)} items != {len(real)}: {ours[len(real):] or real[len(ours):]}"
    return f"{where}: ours {ours!r} != real {real!r}"


# --- streams --------------------------------------------------------------------------------


def sse_events(raw: bytes) -> list[tuple[str | None, Any]]:
    """``(event name, data)`` of each SSE event; data JSON-decoded, ``[DONE]`` kept as text."""
    events: list[tuple[str | None, Any]] = []
    for block in raw.decode().split("\n\n"):
        name, data = None, None
        for line in block.split("\n"):
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data = line[len("data: ") :]
        if data is not None:
            events.append((name, data if data == "[DONE]" else json.loads(data)))
    return events


def chunk_kind(chunk: dict[str, Any]) -> str:
    """What a chat / completions chunk carries, by the keys its choice has: ``role`` (the
    first chunk of a choice), ``content``, ``reasoning``, ``tool_calls`` (a non-null value;
    content may be "", a token that ends mid-character), ``text`` (completions), plus
    ``finish`` when it has a finish_reason, joined with ``+``; ``usage`` for the
    ``choices: []`` chunk, ``error`` for an in-stream error; ``empty`` for none of those."""
    if "error" in chunk:
        return "error"
    if not chunk.get("choices"):
        return "usage"
    choice = chunk["choices"][0]
    delta = choice.get("delta")
    if isinstance(delta, dict):
        tags = ["role"] if "role" in delta else [k for k in ("content", "reasoning", "tool_calls") if delta.get(k) is not None]
    else:
        tags = ["text"] if choice.get("text") is not None else []
    if choice.get("finish_reason") is not None:
        tags.append("finish")
    return "+".join(tags) or "empty"


def _collapse(items: list[Any]) -> list[Any]:
    """Repeats as one: runs of an item, and runs of a block of up to 4 items (``A B A B`` is
    ``A B``: two tool calls streamed like one). How many tokens, events or parallel tool calls
    a stream holds is the random model's doing; what follows what is vLLM's."""
    out = list(items)
    changed = True
    while changed:
        changed = False
        for width in range(1, 5):
            i = 0
            while i + 2 * width <= len(out):
                if out[i : i + width] == out[i + width : i + 2 * width]:
                    del out[i + width : i + 2 * width]
                    changed = True
                else:
                    i += 1
    return out


def stream_shape(raw: bytes, loose: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The shape of an SSE body, compared as a whole:

    * ``terminator``: the last event's data when it is not JSON (``[DONE]``), else None;
    * chat / completions chunks: ``choices``: per choice index, the sequence of
      ``(chunk_kind, key_shape)``, repeats collapsed; ``kinds``: the set of chunk kinds;
      ``order``: the collapsed sequence of events with ``choice`` standing for any choice's
      chunk (where usage and error events sit; how choices interleave is the scheduler's);
    * Responses API events: ``events``: the collapsed sequence of ``(type, key_shape)``,
      and ``names_match``: every ``event:`` line names its data's ``type``.
    """
    events = sse_events(raw)
    terminator = events[-1][1] if events and isinstance(events[-1][1], str) else None
    payloads = [data for _, data in events if not isinstance(data, str)]
    if any(name is not None for name, _ in events):
        return {
            "terminator": terminator,
            "events": _collapse([(d.get("type"), key_shape(d, "$", loose)) for d in payloads]),
            "names_match": all(name == data.get("type") for name, data in events if not isinstance(data, str)),
        }
    per_choice: dict[int, list[Any]] = {}
    order: list[str] = []
    for chunk in payloads:
        kind = chunk_kind(chunk)
        if kind in ("usage", "error"):
            order.append(kind)
            continue
        order.append("choice")
        per_choice.setdefault(chunk["choices"][0].get("index", 0), []).append((kind, key_shape(chunk, "$", loose)))
    return {
        "terminator": terminator,
        "choices": {i: _collapse(seq) for i, seq in sorted(per_choice.items())},
        "kinds": sorted({kind for seq in per_choice.values() for kind, _ in seq} | set(order) - {"choice"}),
        "order": _collapse(order),
    }


# --- captures whose values are noise of the random model ------------------------------------


_GRAMMAR_END = (
    "a grammar-forced answer (structured outputs, a forced tool call) ends on one of the tiny "
    "model's two EOS tokens, <|im_end|> (stop_reason null) or <|endoftext|> (stop_reason 4087); "
    "which one is the random model's pick"
)
_STOP_HIT = (
    "the stop string / stop token id was picked from the real model's seeded text, so it ends "
    "that text; the emulator's text seldom contains it (finish_reason length, stop_reason null)"
)

_PARTIAL_CHARACTER = (
    "a byte-level token that ends inside a UTF-8 character has the text \"\" and `bytes: []`; whether "
    "the random model picks one is chance (the type of the elements, when there are some, is still int)"
)


def loose_paths(fx: dict[str, Any]) -> dict[str, str]:
    """Paths (``key_shape`` notation) whose JSON type the random model decides for this
    capture, each with the reason; derived from the request, so only captures with the
    feature get them, and only for the values the feature makes random."""
    req = request_json(fx) or {}
    loose: dict[str, str] = {}
    choice = req.get("tool_choice")
    if req.get("structured_outputs") or req.get("response_format") or choice == "required" or isinstance(choice, dict):
        loose["$.choices[].stop_reason"] = _GRAMMAR_END
    if req.get("stop") or req.get("stop_token_ids"):
        loose["$.choices[].stop_reason"] = _STOP_HIT
    if fx["request"]["path"].startswith("/v1/audio/") and b"verbose_json" in request_bytes(fx):
        loose["$.segments"] = ("the random Whisper never emits a timestamp token, so vLLM finds no segment; "
                               "the emulator's answer has one")
    if req.get("logprobs") is True:
        for path in ("$.choices[].logprobs.content[].bytes", "$.choices[].logprobs.content[].top_logprobs[].bytes"):
            loose[path] = _PARTIAL_CHARACTER
    return loose


# Error messages with a part that cannot be reproduced: capture -> (reason, regex of that part).
MESSAGE_VARIES: dict[str, tuple[str, str]] = {
    "embed_v2_truncate_none_too_long": ("the emulator's tokenizer is not the tiny model's", r"Input of \d+ tokens"),
    "so_error_invalid_json_schema": ("xgrammar's log prefix holds the wall-clock time", r"\[\d\d:\d\d:\d\d\]"),
    "so_error_invalid_regex": ("xgrammar's log prefix holds the wall-clock time", r"\[\d\d:\d\d:\d\d\]"),
}

# Captures compared without their choices (status, headers and the rest of the body still are:
# `$.choices` is loose, a stream's `order` and terminator are compared), with the reason.
ENVELOPE_ONLY: dict[str, str] = {
    "hermes_required_nonstrict": (
        "non-strict tools constrain only the <tool_call> envelope; the random model never closes the "
        "arguments, so vLLM parses no call and returns the raw text as content (finish_reason length). "
        "The emulator's model writes valid arguments: it answers with tool_calls, as a real model would"
    ),
    "r1sor_regex_think_answer_charwise_stream": (
        "logit_bias -100 on <think>/</think> makes the model spell the tags with ordinary tokens; "
        "vLLM's streaming reasoning parser looks for the token ids, so the stream stays in reasoning, "
        "while the non-streamed parser reads the text and splits it (r1sor_regex_think_answer_charwise, "
        "which passes). The emulator streams what its non-streamed answer holds"
    ),
}


# --- replay ---------------------------------------------------------------------------------


def send(server: MockVllmServer, req: dict[str, Any]) -> tuple[http.client.HTTPResponse, socket.socket]:
    """The captured request over a fresh socket: its method, path, headers and body bytes
    (Host and Content-Length are this connection's)."""
    body = request_bytes({"request": req})
    lines = [f"{req['method']} {req['path']} HTTP/1.1", f"host: 127.0.0.1:{server.port}"]
    lines += [f"{k}: {v}" for k, v in req.get("headers", {}).items() if k.lower() not in ("host", "content-length")]
    if body or req["method"] != "GET":
        lines.append(f"content-length: {len(body)}")
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    resp = http.client.HTTPResponse(sock, method=req["method"])
    resp.begin()
    return resp, sock


def _headers(pairs: list[tuple[str, str]] | list[list[str]]) -> tuple[list[str], dict[str, str]]:
    names = [k.lower() for k, _ in pairs]
    values = {k.lower(): v for k, v in pairs if k.lower() in VALUE_HEADERS}
    return names, values


@pytest.mark.skipif(not FIXTURES_DIR.is_dir(), reason="real-vllm fixtures not available")
@pytest.mark.parametrize("name", CAPTURES)
def test_replay(name: str, servers: dict[str, MockVllmServer], tmp_path: Path) -> None:
    fx = load_fixture(name)
    server = server_for(servers, fx)
    real = fx["response"]
    if name in LOCAL_ADAPTERS:
        (tmp_path / "adapter_config.json").write_text(json.dumps({"r": LOCAL_ADAPTERS[name], "bias": "none"}))
        fx["request"]["body"] = json.dumps({**json.loads(fx["request"]["body"]), "lora_path": str(tmp_path)})
    if name in PRELUDE:
        before, before_sock = send(server, load_fixture(PRELUDE[name])["request"])
        try:
            assert before.status == 200, before.read()[:300]
            before.read()
        finally:
            before_sock.close()
    resp, sock = send(server, fx["request"])
    try:
        if "raw_wire" in real:
            replay_disconnect(fx, server, resp, sock)
            return
        ours_body = resp.read()
    finally:
        sock.close()
    assert resp.status == real["status"], ours_body[:300]
    ours_names, ours_values = _headers(resp.getheaders())
    real_names, real_values = _headers(real["headers"])
    assert ours_names == real_names, f"header names {ours_names} != {real_names}"
    assert ours_values == real_values, f"header values {ours_values} != {real_values}"
    real_body = response_bytes(fx)
    real_meta, ours_meta = dict(real["headers"]).get("metadata"), resp.getheader("metadata")
    if real_meta is not None:  # the JSON of a binary answer (encoding_format bytes)
        assert ours_meta is not None and key_shape(json.loads(ours_meta)) == key_shape(json.loads(real_meta))
    if real["status"] >= 400:
        compare_error(name, ours_body, real_body)
    else:
        compare_success(fx, real_values.get("content-type", ""), ours_body, real_body)


def compare_error(name: str, ours_raw: bytes, real_raw: bytes) -> None:
    ours, real = json.loads(ours_raw), json.loads(real_raw)
    if not isinstance(real.get("error"), dict):  # {"error": "Unauthorized"}, {"detail": "Not Found"}
        assert ours_raw == real_raw
        return
    assert key_shape(ours) == key_shape(real), first_difference(key_shape(ours), key_shape(real))
    for key in ("type", "param", "code"):  # (Anthropic-shaped errors have no param and code)
        assert ours["error"].get(key) == real["error"].get(key), f"{key}: {ours['error']!r}"
    if name in MESSAGE_VARIES:
        volatile = MESSAGE_VARIES[name][1]
        assert re.sub(volatile, "<>", ours["error"]["message"]) == re.sub(volatile, "<>", real["error"]["message"])
    else:
        assert ours["error"]["message"] == real["error"]["message"], f"{ours['error']['message']!r} != {real['error']['message']!r}"


def compare_success(fx: dict[str, Any], content_type: str, ours: bytes, real: bytes) -> None:
    envelope_only = fx["scenario"] in ENVELOPE_ONLY
    loose = frozenset(loose_paths(fx)) | ({"$.choices"} if envelope_only else set())
    if content_type.startswith("text/event-stream"):
        a, b = stream_shape(ours, loose), stream_shape(real, loose)
        if envelope_only:
            a, b = {k: a[k] for k in ("terminator", "order")}, {k: b[k] for k in ("terminator", "order")}
        assert a == b, first_difference(a, b)
    elif content_type.startswith("application/json"):
        a, b = key_shape(json.loads(ours), "$", loose), key_shape(json.loads(real), "$", loose)
        assert a == b, first_difference(a, b)
    elif content_type.startswith("text/plain"):  # Prometheus text (the capture is cut at 3 KiB)
        assert prometheus_lines_ok(ours) and prometheus_lines_ok(real.rsplit(b"\n", 1)[0])
    elif content_type == "application/octet-stream":  # packed vectors (encoding_format bytes / bytes_only)
        assert len(ours) == len(real)
    elif fx["request"]["path"] in ("/v1/load_lora_adapter", "/v1/unload_lora_adapter"):
        assert ours == real  # plain text without a content type: "Success: LoRA adapter ..."
    else:
        assert ours == real == b""


_PROM_LINE = re.compile(rb"(# (HELP|TYPE) \S+ .*|[a-zA-Z_:][\w:]*(\{[^}]*\})? \S+)")


def prometheus_lines_ok(body: bytes) -> bool:
    lines = [ln for ln in body.split(b"\n") if ln]
    return bool(lines) and all(_PROM_LINE.fullmatch(ln) for ln in lines)


def replay_disconnect(
    fx: dict[str, Any], server: MockVllmServer, resp: http.client.HTTPResponse, sock: socket.socket
) -> None:
    """chat_stream_client_disconnect: read as many events as the capture holds, close the
    connection, and see the emulator abort the generation (what vLLM does)."""
    real = fx["response"]
    assert resp.status == real["status"]
    assert _headers(resp.getheaders()) == _headers(real["headers"])
    wanted = len(sse_events(real["body_after_headers_chunked"].encode()))
    raw = b""
    while raw.count(b"\n\n") < wanted:
        raw += resp.read1(65536)
    resp.close()
    sock.close()
    ours = sse_events(raw)[:wanted]
    real_events = sse_events(real["body_after_headers_chunked"].encode())
    assert [key_shape(d) for _, d in ours] == [key_shape(d) for _, d in real_events]
    request_id = json.loads(fx["request"]["body"])["request_id"]
    assert server.wait_for_abort(request_id, timeout=10) == request_id


# --- known vLLM answers no capture holds ----------------------------------------------------

EMPTY_CONVERSATION = (
    "Cannot apply chat template to an empty conversation. Provide at least one message."  # transformers' ValueError
)


@pytest.mark.parametrize("stream", [False, True])
def test_not_captured_empty_messages(stream: bool, servers: dict[str, MockVllmServer]) -> None:
    """Issue 7: openai-python against vLLM 0.32 got a 400 for `messages: []` (the chat template
    refuses an empty conversation, before anything is streamed), where the emulator said 200."""
    fx = load_fixture("err_n_zero")  # a plain-server 400 of the same route, for the envelope
    body = json.dumps({"model": "tiny", "messages": [], "max_tokens": 4, "stream": stream})
    resp, sock = send(server_for(servers, fx), {**fx["request"], "body": body})
    try:
        raw = resp.read()
    finally:
        sock.close()
    assert resp.status == 400
    assert _headers(resp.getheaders()) == _headers(fx["response"]["headers"])
    ours = json.loads(raw)
    assert key_shape(ours) == key_shape(json.loads(fx["response"]["body"]))
    assert ours["error"] == {"message": EMPTY_CONVERSATION, "type": "BadRequestError", "param": None, "code": 400}

"""The emulator's scale-out and operator routes: ``/inference/v1/generate`` (token ids in,
token ids out), ``/inference/v1/abort_requests``, ``/scale_elastic_ep``, ``/is_scaling_elastic_ep``.

As vLLM 0.32 answers them (``entrypoints/scale_out``, ``serve/elastic_ep``): generate is 403
unless the server runs with ``--enable-scale-out``; its answer carries ``token_ids`` per choice
(``output_mode="text"`` adds ``text``), ``weight_versions`` once the choice is complete, and a
stream ends with a usage frame (when asked) and ``[DONE]``. The emulated model samples its
usual words; a token's id is the emulator's id for that word. An elastic-EP scale to the
current size (1) is a no-op; any other size fails with 500 "Scale failed", as on a one-engine
server; the validation errors are HTTPExceptions (``type`` is the HTTP phrase).
"""

from __future__ import annotations

import json
import random
import time
import zlib
from dataclasses import dataclass
from typing import Any

from . import _generate as gen
from . import _shapes as shapes
from . import _validate as val

__all__ = ["ELASTIC_ROUTES", "GENERATE_ROUTES", "GenerateAnswer", "abort", "elastic", "generate"]

_POST = ("POST",)
GENERATE_ROUTES: dict[str, tuple[str, ...]] = {"/inference/v1/generate": _POST, "/inference/v1/abort_requests": _POST}
ELASTIC_ROUTES: dict[str, tuple[str, ...]] = {"/scale_elastic_ep": _POST, "/is_scaling_elastic_ep": _POST}

Problem = tuple[int, Any]


@dataclass
class GenerateAnswer:
    """A JSON answer (``events`` None), or a stream's frames (the server adds ``[DONE]``)."""

    status: int
    body: Any = None
    events: list[bytes] | None = None


def _http_error(status: int, message: str) -> Problem:
    phrase = {400: "Bad Request", 408: "Request Timeout", 500: "Internal Server Error"}[status]
    return status, shapes.error_body(message, phrase, None, status)


def elastic(path: str, content_type: str | None, raw: bytes, data_parallel_size: int = 1) -> Problem:
    """``/scale_elastic_ep`` and ``/is_scaling_elastic_ep`` (one engine: nothing ever scales)."""
    if path == "/is_scaling_elastic_ep":
        return 200, {"is_scaling_elastic_ep": False}
    problem = val.parse_body(content_type, b"{}")[1]  # validate_json_request: the content type only
    if problem is not None:
        return problem
    try:
        body = json.loads(raw)
    except ValueError:
        return _http_error(400, "Invalid JSON format")
    if not isinstance(body, dict):
        return _http_error(400, "Invalid JSON format")
    size, drain = body.get("new_data_parallel_size"), body.get("drain_timeout", 120)
    if size is None:
        return _http_error(400, "new_data_parallel_size is required")
    if type(size) is not int or size <= 0:
        return _http_error(400, "new_data_parallel_size must be a positive integer")
    if type(drain) is not int or drain <= 0:
        return _http_error(400, "drain_timeout must be a positive integer")
    if size != data_parallel_size:
        return _http_error(500, "Scale failed")
    return 200, {"message": f"Scaled to {size} data parallel engines"}


def abort(content_type: str | None, raw: bytes) -> Problem:
    body, problem = val.parse_body(content_type, raw)
    if problem is not None:
        return problem
    if not isinstance(body, dict) or "request_ids" not in body:
        return val.missing(body, ["request_ids"])
    return 200, None


def _validate(body: Any, max_num_seqs: int) -> Problem | None:
    if not isinstance(body, dict):
        return val.invalid("", "model_attributes_type",
                           "Input should be a valid dictionary or object to extract fields from", body)
    missing = [f for f in ("token_ids", "sampling_params") if f not in body]
    if missing:
        return val.missing(body, missing)
    ids = body["token_ids"]
    if not isinstance(ids, list) or not all(type(t) is int for t in ids):
        return val.invalid("token_ids", "list_type", "Input should be a valid list", ids)
    if not ids:
        return val.invalid("token_ids", "too_short", "List should have at least 1 item after validation, not 0", ids,
                           field_type="List", min_length=1, actual_length=0)
    if any(t < 0 for t in ids):
        msg = "token_ids must not contain negative values"
        return val.invalid("token_ids", "value_error", f"Value error, {msg}", ids, error=ValueError(msg))
    sampling = body["sampling_params"]
    if not isinstance(sampling, dict):
        return val.invalid("sampling_params", "model_type", "Input should be an object", sampling)
    n = sampling.get("n", 1)
    if type(n) is int and n > max_num_seqs:
        return val.bad_request(f"sampling_params.n must be at most the server's max_num_seqs ({max_num_seqs}), "
                               f"got {n}.")
    return None


def _sample(body: dict[str, Any], index: int, max_model_len: int) -> tuple[list[int], list[str], str, Any]:
    """One choice: its token ids and texts, finish reason and stop reason."""
    sp = body["sampling_params"]
    prompt = body["token_ids"]
    seed = sp.get("seed")
    rng = random.Random(f"generate:{seed if seed is not None else zlib.crc32(bytes(str(prompt), 'ascii'))}:{index}")
    room = max(max_model_len - len(prompt), 1)
    limit = min(int(sp["max_tokens"]), room) if sp.get("max_tokens") is not None else None
    natural = limit is None and not sp.get("ignore_eos")
    count = limit if limit is not None else (rng.randint(6, 14) if natural else min(16, room))
    texts = [gen.sample_token(rng) for _ in range(count)]
    ids = [gen.token_id(t) for t in texts]
    stops = set(sp.get("stop_token_ids") or ())
    for k, tid in enumerate(ids):
        if tid in stops:
            return ids[:k + 1], texts[:k], "stop", tid
    return ids, texts, "length" if limit is not None and count == limit else "stop", None


def _logprobs(ids: list[int], k: int, salt: str) -> dict[str, Any]:
    rng = random.Random(f"lp:{salt}")
    content = []
    for tid in ids:
        lp = -round(rng.random() * 3 + 0.01, 6)
        top = [{"token_id": tid, "logprob": lp, "rank": 1}]
        top += [{"token_id": gen.token_id(gen.sample_token(rng)), "logprob": lp - 0.5 * (j + 1), "rank": j + 2}
                for j in range(max(k - 1, 0))]
        content.append({"token_id": tid, "logprob": lp, "rank": 1, "top_logprobs": top[:k] if k else []})
    return {"content": content}


def generate(body: Any, *, model: str, max_model_len: int, max_num_seqs: int, request_id: str) -> GenerateAnswer:
    """vLLM's answer to ``POST /inference/v1/generate`` (the body parsed; the gate passed)."""
    problem = _validate(body, max_num_seqs)
    if problem is not None:
        return GenerateAnswer(*problem)
    sp, prompt = body["sampling_params"], body["token_ids"]
    text_mode = body.get("output_mode") == "text"
    rid = f"generate-tokens-{request_id}"
    choices = [_sample(body, i, max_model_len) for i in range(int(sp.get("n") or 1))]
    want_lp = sp.get("logprobs")
    prompt_ids = prompt if body.get("return_token_ids") else None
    if body.get("stream"):
        return GenerateAnswer(200, events=_frames(body, rid, choices, prompt_ids, text_mode))
    out_choices = []
    for i, (ids, texts, finish, stop) in enumerate(choices):
        c: dict[str, Any] = {"index": i, "finish_reason": finish, "stop_reason": stop, "token_ids": ids,
                             "routed_experts": None, "sampling_mask": None,
                             "weight_versions": [{"version": "default", "start": 0, "end": len(ids)}]}
        if text_mode:
            c["text"] = "".join(texts)
        c["logprobs"] = _logprobs(ids, int(want_lp), rid) if type(want_lp) is int else None
        out_choices.append(c)
    completion = sum(len(c[0]) for c in choices)
    usage = {"prompt_tokens": len(prompt), "total_tokens": len(prompt) + completion, "completion_tokens": completion,
             "prompt_tokens_details": None, "completion_tokens_details": None}
    return GenerateAnswer(200, {
        "request_id": rid, "model": body.get("model") or model, "created": int(time.time()), "usage": usage,
        "prompt_logprobs": None, "prompt_token_id_logprobs": None, "prompt_token_ids": prompt_ids,
        "mm_placeholders": None, "metrics": None, "kv_transfer_params": None, "ec_transfer_params": None,
        "output_mode": "text" if text_mode else "tokens", "choices": out_choices})


def _frames(body: dict[str, Any], rid: str, choices: list[tuple[list[int], list[str], str, Any]],
            prompt_ids: list[int] | None, text_mode: bool) -> list[bytes]:
    mode = "text" if text_mode else "tokens"
    frames: list[bytes] = []
    first = True
    for i, (ids, texts, finish, stop) in enumerate(choices):
        for k, tid in enumerate(ids):
            last = k == len(ids) - 1
            c: dict[str, Any] = {"index": i, "finish_reason": finish if last else None,
                                 "stop_reason": stop if last else None, "token_ids": [tid], "routed_experts": None,
                                 "sampling_mask": None,
                                 "weight_versions": [{"version": "default", "start": 0, "end": len(ids)}] if last
                                 else None}
            if text_mode:
                c["text"] = texts[k] if k < len(texts) else ""
            c["logprobs"] = None
            frame: dict[str, Any] = {"request_id": rid, "usage": None}
            if first and prompt_ids is not None:
                frame["prompt_token_ids"] = prompt_ids
            first = False
            frames.append(shapes.sse({**frame, "output_mode": mode, "choices": [c]}))
    options = body.get("stream_options") or {}
    if options.get("include_usage"):
        prompt = len(body["token_ids"])
        completion = sum(len(c[0]) for c in choices)
        usage = {"prompt_tokens": prompt, "total_tokens": prompt + completion, "completion_tokens": completion}
        frames.append(shapes.sse({"request_id": rid, "usage": usage, "output_mode": mode, "choices": []}))
    return frames

"""Write the tiny test model: a random-weight Qwen2 described only by config and tokenizer files.

    <vllm venv>/bin/python tiny_model.py OUT_DIR

``vllm serve OUT_DIR --load-format dummy`` fills the weights with seeded noise, so no weights
exist anywhere and nothing is fetched from a model hub. The tokenizer is trained here, a
byte-level BPE on the interpreter's own standard library sources. Run by the vLLM venv's
interpreter (it needs ``tokenizers``), so this file imports nothing else of the harness.

The tests depend on the exact vocabulary: the tag ids below are sent as ``logit_bias`` keys,
whitespace token ids are banned by id, and the captures in tests/fixtures/real-vllm-0.32 were
made with this tokenizer. Training is deterministic, but its input is the standard library of
the Python at hand, so the result is checked against :data:`VOCAB_FINGERPRINT` and a
mismatch is an error rather than a subtly different model.

Vocabulary (4096 ids): 0-4086 byte-level BPE (256 byte symbols + merges), then

    4087 <|endoftext|>  special (pad; end of text for /v1/completions)
    4088 <|im_start|>   special
    4089 <|im_end|>     special (end of a chat turn: eos)
    4090 <think>  4091 </think>  4092 <tool_call>  4093 </tool_call>
    4094 <tool_response>  4095 </tool_response>   (added, not special: they appear in text)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import Any

VOCAB_SIZE = 4096
SPECIAL = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
TAGS = ("<think>", "</think>", "<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>")
BPE_SIZE = VOCAB_SIZE - len(SPECIAL) - len(TAGS)

#: how much standard-library source the BPE is trained on
CORPUS_BYTES = 6_000_000

#: sha256 of the canonical vocabulary + merges + added tokens (see fingerprint());
#: set VLLM_IT_ANY_VOCAB=1 to accept another (the integration tests will not all pass)
VOCAB_FINGERPRINT = "81cbe17f013922c59e04bf28fbf0e2c4e1bfcde7e7bf940c71041909a75ee110"

#: Qwen2's pre-tokenisation: contractions, letters with one leading non-letter, single
#: digits, punctuation runs, newlines, other whitespace
QWEN2_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
    r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

#: CPU attention in vLLM supports only these head sizes
CPU_HEAD_SIZES = (32, 64, 80, 96, 112, 128, 160, 192, 224, 256, 512)

ARCH = {
    "hidden_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "intermediate_size": 256,
    "max_position_embeddings": 4096,
}


# --------------------------------------------------------------------------- tokenizer


def corpus_files() -> list[Path]:
    """The standard library's own modules (no tests, no site-packages), in path order, taken
    while they fit in CORPUS_BYTES (a file that would overflow is passed over, not a stop)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    excluded_tops = ("site-packages/", "dist-packages/", "test/", "idlelib/idle_test/")
    picked: list[Path] = []
    budget = CORPUS_BYTES
    for path in sorted(stdlib.rglob("*.py")):
        rel = path.relative_to(stdlib).as_posix()
        if rel.startswith(excluded_tops) or "/test/" in rel or "/tests/" in rel:
            continue
        size = path.stat().st_size
        if size <= budget:
            picked.append(path)
            budget -= size
    return picked


def _texts(files: list[Path]) -> Iterator[str]:
    for path in files:
        yield path.read_text(encoding="utf-8", errors="replace")


def train_tokenizer() -> Any:
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=BPE_SIZE,
        min_frequency=2,
        show_progress=False,
        special_tokens=[],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    files = corpus_files()
    tok.train_from_iterator(_texts(files), trainer=trainer, length=len(files))
    if tok.get_vocab_size() != BPE_SIZE:
        raise SystemExit(f"BPE training gave {tok.get_vocab_size()} tokens, not {BPE_SIZE}: corpus too small?")
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL])
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in TAGS])
    return tok


def fingerprint(tokenizer_json: dict[str, Any]) -> str:
    """A digest of what decides tokenisation, independent of how ``tokenizers`` lays out its
    file (merges are "a b" strings in older releases, ["a", "b"] pairs in newer ones)."""
    model = tokenizer_json["model"]
    merges = [m.split(" ", 1) if isinstance(m, str) else list(m) for m in model["merges"]]
    added = [(t["id"], t["content"], t["special"]) for t in tokenizer_json["added_tokens"]]
    canon = json.dumps([sorted(model["vocab"].items()), merges, added], ensure_ascii=False)
    return hashlib.sha256(canon.encode()).hexdigest()


# --------------------------------------------------------------------------- model files


def _token_entry(content: str, special: bool) -> dict[str, Any]:
    return {"content": content, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
            "special": special}


def tokenizer_config(ids: dict[str, int], chat_template: str) -> dict[str, Any]:
    decoder = {str(ids[t]): _token_entry(t, t in SPECIAL) for t in (*SPECIAL, *TAGS)}
    return {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": decoder,
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "bos_token": None,
        "chat_template": chat_template,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|im_end|>",
        "errors": "replace",
        "model_max_length": ARCH["max_position_embeddings"],
        "pad_token": "<|endoftext|>",
        "split_special_tokens": False,
        "tokenizer_class": "Qwen2Tokenizer",
        "unk_token": None,
    }


def special_tokens_map() -> dict[str, Any]:
    def entry(content: str) -> dict[str, Any]:
        e = _token_entry(content, True)
        del e["special"]
        return e

    return {
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "eos_token": entry("<|im_end|>"),
        "pad_token": entry("<|endoftext|>"),
    }


def model_config(ids: dict[str, int]) -> dict[str, Any]:
    head = ARCH["hidden_size"] // ARCH["num_attention_heads"]
    if head not in CPU_HEAD_SIZES:
        raise SystemExit(f"head size {head} is not supported by vLLM's CPU attention")
    config = {
        **ARCH,
        "architectures": ["Qwen2ForCausalLM"],
        "model_type": "qwen2",
        "attention_dropout": 0.0,
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "hidden_act": "silu",
        "initializer_range": 0.02,
        "max_window_layers": ARCH["num_hidden_layers"],
        "rms_norm_eps": 1e-06,
        "rope_theta": 10000.0,
        "sliding_window": None,
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": VOCAB_SIZE,
    }
    return dict(sorted(config.items()))


def generation_config(ids: dict[str, int]) -> dict[str, Any]:
    # token ids only: no sampling defaults, so requests get vLLM's (OpenAI's) defaults
    return {"bos_token_id": ids["<|endoftext|>"], "eos_token_id": [ids["<|im_end|>"], ids["<|endoftext|>"]]}


def _dump(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def build(out: Path) -> str:
    """Write the model into ``out`` (replaced as a whole, so a half-built one never remains).
    Returns the vocabulary fingerprint."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
    tmp = out.with_name(out.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    tok = train_tokenizer()
    tok.save(str(tmp / "tokenizer.json"))
    digest = fingerprint(json.loads((tmp / "tokenizer.json").read_text(encoding="utf-8")))
    if digest != VOCAB_FINGERPRINT and os.environ.get("VLLM_IT_ANY_VOCAB") != "1":
        raise SystemExit(
            f"the trained vocabulary differs from the one the tests and captures were made with\n"
            f"  fingerprint {digest}\n  expected    {VOCAB_FINGERPRINT}\n"
            f"(Python {sys.version.split()[0]} stdlib at {sysconfig.get_paths()['stdlib']}; the reference "
            "was trained on CPython 3.11's). VLLM_IT_ANY_VOCAB=1 accepts it anyway."
        )
    ids = {t: tok.token_to_id(t) for t in (*SPECIAL, *TAGS)}
    template = (Path(__file__).with_name("chat_template.jinja")).read_text(encoding="utf-8")
    _dump(tmp / "tokenizer_config.json", tokenizer_config(ids, template))
    _dump(tmp / "special_tokens_map.json", special_tokens_map())
    _dump(tmp / "config.json", model_config(ids))
    _dump(tmp / "generation_config.json", generation_config(ids))
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return digest


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(f"usage: {sys.argv[0]} OUT_DIR")
    print(f"tiny model written to {sys.argv[1]} (vocabulary {build(Path(sys.argv[1]))[:16]})")

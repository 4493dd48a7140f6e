"""Write a tiny random-weight Whisper: config, tokenizer and feature extractor, no weights.

    <vllm venv>/bin/python tiny_whisper.py OUT_DIR

Served with ``--load-format dummy`` like the tiny Qwen2: vLLM 0.32 runs Whisper on the CPU
(encoder-decoder attention), and the audio routes (/v1/audio/transcriptions, translations)
are real; the text is noise. The pieces a server needs and a hub checkpoint would bring:

* a byte-level tokenizer (the 256 byte symbols, no merges) plus Whisper's control tokens:
  ``<|startoftranscript|>``, one ``<|xx|>`` per language vLLM accepts (its language
  detection picks among them), ``<|transcribe|>``, ``<|translate|>``, ``<|notimestamps|>``...
  and the 1501 timestamp tokens ``<|0.00|>``..``<|30.00|>`` as the highest ids (verbose_json
  reads segments from them);
* an 80-bin, 16 kHz, 30 s feature extractor (``preprocessor_config.json``);
* a 1-layer encoder and decoder, d_model 64, 2 heads (head size 32: one the CPU backend has).

Decoding the uploaded audio needs ``soundfile`` in the server's venv (install.py adds it for
this model): vLLM 0.32 without torchcodec, soundfile or PyAV answers every upload with 400.
Run by the vLLM venv's interpreter (it needs transformers and vLLM's language list).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _byte_symbols() -> list[str]:
    """GPT-2's byte -> printable character table (the byte-level BPE alphabet)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    codes = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    return [chr(c) for _, c in sorted(zip(printable, codes, strict=True))]


def build(out: Path) -> None:
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperProcessor, WhisperTokenizer
    from vllm.model_executor.models.whisper_utils import ISO639_1_SUPPORTED_LANGS

    out.mkdir(parents=True, exist_ok=True)
    vocab = {sym: i for i, sym in enumerate(_byte_symbols())}
    vocab["<|endoftext|>"] = len(vocab)
    (out / "vocab.json").write_text(json.dumps(vocab))
    (out / "merges.txt").write_text("#version: 0.2\n")
    eot = "<|endoftext|>"
    tok = WhisperTokenizer(str(out / "vocab.json"), str(out / "merges.txt"), unk_token=eot, bos_token=eot,
                           eos_token=eot, pad_token=eot)
    control = ["<|startoftranscript|>", *(f"<|{lang}|>" for lang in ISO639_1_SUPPORTED_LANGS), "<|translate|>",
               "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|prev|>", "<|nocaptions|>",
               "<|notimestamps|>"]
    tok.add_special_tokens({"additional_special_tokens": control})
    tok.add_tokens([f"<|{i * 0.02:.2f}|>" for i in range(1501)])
    features = WhisperFeatureExtractor(feature_size=80, sampling_rate=16000, chunk_length=30)
    WhisperProcessor(features, tok).save_pretrained(out)
    features.save_pretrained(out)
    eot_id = tok.convert_tokens_to_ids(eot)
    WhisperConfig(
        vocab_size=len(tok), num_mel_bins=80, d_model=64, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=128, decoder_ffn_dim=128,
        max_source_positions=1500, max_target_positions=448,
        decoder_start_token_id=tok.convert_tokens_to_ids("<|startoftranscript|>"),
        pad_token_id=eot_id, bos_token_id=eot_id, eos_token_id=eot_id,
        architectures=["WhisperForConditionalGeneration"],
    ).save_pretrained(out)
    print(f"tiny whisper: {len(tok)} tokens in {out}")


if __name__ == "__main__":
    build(Path(sys.argv[1]))

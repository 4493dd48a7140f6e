"""Write a LoRA adapter for the tiny model: ``adapter_config.json`` + ``adapter_model.safetensors``.

Standard library only (the safetensors format is an 8-byte little-endian header length, a JSON
header naming each tensor's dtype, shape and byte range, then the raw little-endian data), so
no peft, torch or download is needed. The adapter targets the attention projections of both
layers of the tiny Qwen2 (hidden 128, 4 heads, 2 KV heads: q/o 128 wide, k/v 64). With
``scale=0`` its B matrices are zero and the model's output is unchanged; otherwise they are
seeded noise large enough to change the tokens the random-weight model picks.

    python -m tests.integration.harness.tiny_lora OUT_DIR [RANK]
"""

from __future__ import annotations

import json
import random
import struct
import sys
from array import array
from pathlib import Path

HIDDEN, HEADS, KV_HEADS, LAYERS = 128, 4, 2, 2
HEAD_DIM = HIDDEN // HEADS
OUT_FEATURES = {"q_proj": HEADS * HEAD_DIM, "k_proj": KV_HEADS * HEAD_DIM, "v_proj": KV_HEADS * HEAD_DIM,
                "o_proj": HIDDEN}


def _f32(values: list[float]) -> bytes:
    data = array("f", values)
    if sys.byteorder != "little":
        data.byteswap()
    return data.tobytes()


def write_safetensors(path: Path, tensors: dict[str, tuple[list[int], list[float]]]) -> None:
    """``tensors``: name -> (shape, row-major float values), written as F32."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    blobs: list[bytes] = []
    offset = 0
    for name, (shape, values) in tensors.items():
        blob = _f32(values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def write_adapter(out: Path, *, rank: int = 8, scale: float = 0.5, seed: int = 0) -> Path:
    """The adapter directory ``out`` (created): ranks 1, 8, 16, 32... are what vLLM accepts."""
    rng = random.Random(seed)
    tensors: dict[str, tuple[list[int], list[float]]] = {}
    for layer in range(LAYERS):
        for module, out_features in OUT_FEATURES.items():
            prefix = f"base_model.model.model.layers.{layer}.self_attn.{module}"
            tensors[f"{prefix}.lora_A.weight"] = ([rank, HIDDEN], [rng.gauss(0, 0.02) for _ in range(rank * HIDDEN)])
            tensors[f"{prefix}.lora_B.weight"] = ([out_features, rank],
                                                   [rng.gauss(0, scale) for _ in range(out_features * rank)])
    out.mkdir(parents=True, exist_ok=True)
    write_safetensors(out / "adapter_model.safetensors", tensors)
    config = {"peft_type": "LORA", "r": rank, "lora_alpha": 2 * rank, "target_modules": list(OUT_FEATURES),
              "bias": "none", "task_type": "CAUSAL_LM", "lora_dropout": 0.0}
    (out / "adapter_config.json").write_text(json.dumps(config, indent=1) + "\n")
    return out


if __name__ == "__main__":
    print(write_adapter(Path(sys.argv[1]), rank=int(sys.argv[2]) if len(sys.argv) > 2 else 8))

"""Bytes of a model's weights in a given quantization, with the basis of the figure.

Order of preference:
1. the artifact's listed size (a Hugging Face file listing: exact);
2. GGUF file types llama.cpp's quantizer makes: the tensor list of the
   architecture with the quantizer's per-tensor type rules (advisor.gguf);
   matches `llama_model_quantize` byte for byte on the supported architectures;
3. other formats: linear weights at the quantization's bits per weight, with
   embeddings/output (and for 16-bit checkpoints everything) at 16 bits; MLX
   quantizes embedding tables too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .arch import count_params
from .gguf import EXACT_ARCHS, FILE_TYPES, gguf_arch, layout_summary
from .schemas import Artifact, Model, Quantization

_FULL = {"f32": 4.0, "f16": 2.0, "bf16": 2.0}


@dataclass(frozen=True)
class WeightSize:
    bytes: int
    estimated: bool
    basis: str
    includes_encoders: bool = False


def _linear_split(m: Model) -> tuple[int, int]:
    """(embedding + output parameters, all other text parameters)."""
    p = count_params(m.architecture)
    emb = p.embedding + p.output + p.per_layer_embeddings
    return emb, p.total - emb


def quant_weights(m: Model, q_id: str, q: Quantization) -> Optional[WeightSize]:
    """Computed size of the text weights (and encoders for 16-bit checkpoints)."""
    a = m.architecture
    if a is None:
        return None
    enc = round(sum(e.params_b for e in m.encoders) * 1e9)
    if q_id in FILE_TYPES and q_id not in _FULL:
        total = layout_summary(a, q_id)["total"]
        how = ("llama.cpp quantizer rules over the config's tensor shapes (text model; a vendor file "
               "that keeps more tensors at high precision is larger)")
        arch = gguf_arch(a)
        if arch not in EXACT_ARCHS:
            how += f" (tensor list approximated for '{arch}')"
        return WeightSize(total, True, how)
    if q_id in _FULL:
        total = count_params(a, enc / 1e9).total
        return WeightSize(round(total * _FULL[q_id]), True,
                          f"{total / 1e9:.3f} B parameters x {_FULL[q_id]:g} bytes", includes_encoders=True)
    emb, rest = _linear_split(m)
    if q.format == "mlx":
        # mlx.nn.quantize converts every layer with to_quantized(): Linear and Embedding alike
        # (https://ml-explore.github.io/mlx/build/html/python/_autosummary/mlx.nn.quantize.html)
        how = f"all linear and embedding weights at {q.bits_per_weight:g} bits ({q.name})"
        if enc:
            how += ", encoders at 16 bits"
        return WeightSize(round((rest + emb) * q.bits_per_weight / 8 + enc * 2), True, how,
                          includes_encoders=bool(enc))
    how = f"linear weights at {q.bits_per_weight:g} bits ({q.name}), embeddings/output at 16 bits"
    if enc:
        how += ", encoders at 16 bits"
    return WeightSize(round(rest * q.bits_per_weight / 8 + (emb + enc) * 2), True, how, includes_encoders=bool(enc))


def artifact_size(m: Model, art: Artifact, q: Quantization) -> Optional[WeightSize]:
    if art.size_bytes:
        src = m.sources.get(art.source)
        ref = src.ref if src else art.source
        return WeightSize(art.size_bytes, art.size_estimated, f"listed size ({ref})")
    return quant_weights(m, art.quantization, q)

"""GGUF layout of a model: its tensors, the type llama.cpp's quantizer gives each, and sizes.

Pure Python, no llama.cpp needed: it reproduces
- the tensor list llama.cpp loads for each supported architecture (names and
  shapes in ggml order, ne[0] first: src/models/<arch>.cpp load_arch_tensors);
- the type chosen per tensor by `llama-quantize` for a file type
  (src/llama-quant.cpp: tensor_allows_quantization, llama_tensor_get_type_impl,
  tensor_type_fallback), processing tensors in the loader's order (non-layer
  tensors by name, then blk.0, blk.1, ... numerically);
- block sizes and bytes per block of each ggml type (ggml/src/ggml.c type_traits).

The same tensor list drives the synthetic GGUF builder in profiling/, so the
estimate and the file measured are the same shapes by construction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Optional

from .schemas import Architecture

# (block size in weights, bytes per block): ggml/src/ggml.c type_traits
# https://github.com/ggml-org/llama.cpp/blob/master/ggml/src/ggml.c
GGML_TYPES: dict[str, tuple[int, int]] = {
    "F32": (1, 4), "F16": (1, 2), "BF16": (1, 2),
    "Q4_0": (32, 18), "Q4_1": (32, 20), "Q5_0": (32, 22), "Q5_1": (32, 24), "Q8_0": (32, 34),
    "Q2_K": (256, 84), "Q3_K": (256, 110), "Q4_K": (256, 144), "Q5_K": (256, 176), "Q6_K": (256, 210),
    "IQ4_NL": (32, 18), "IQ4_XS": (256, 136), "TQ1_0": (256, 54), "TQ2_0": (256, 66),
}

# knowledge/quantizations id -> (llama_ftype name, default ggml type)
FILE_TYPES: dict[str, tuple[str, str]] = {
    "f32": ("ALL_F32", "F32"), "f16": ("MOSTLY_F16", "F16"), "bf16": ("MOSTLY_BF16", "BF16"),
    "q8_0": ("MOSTLY_Q8_0", "Q8_0"), "q6_k": ("MOSTLY_Q6_K", "Q6_K"),
    "q5_k_m": ("MOSTLY_Q5_K_M", "Q5_K"), "q4_k_m": ("MOSTLY_Q4_K_M", "Q4_K"),
    "q4_0": ("MOSTLY_Q4_0", "Q4_0"), "iq4_xs": ("MOSTLY_IQ4_XS", "IQ4_XS"),
    "q3_k_m": ("MOSTLY_Q3_K_M", "Q3_K"), "q2_k": ("MOSTLY_Q2_K", "Q2_K"),
    "tq1_0": ("MOSTLY_TQ1_0", "TQ1_0"), "tq2_0": ("MOSTLY_TQ2_0", "TQ2_0"),
}

# config.json architectures[0] -> llama.cpp architecture (convert_hf_to_gguf.py model classes)
HF_CLASS_TO_ARCH = {
    "Qwen2ForCausalLM": "qwen2",
    "Qwen2_5_VLForConditionalGeneration": "qwen2vl",
    "Qwen3ForCausalLM": "qwen3",
    "Qwen3MoeForCausalLM": "qwen3moe",
    "Phi3ForCausalLM": "phi3",
    "Phi3VForCausalLM": "phi3",
    "Phi4MMForCausalLM": "phi3",
    "Gemma3ForCausalLM": "gemma3",
    "Gemma3ForConditionalGeneration": "gemma3",
    "Gemma3nForConditionalGeneration": "gemma3n",
    "BitNetForCausalLM": "bitnet",
    "LlamaForCausalLM": "llama",
}
# architectures whose tensor list below matches llama.cpp's loader exactly
EXACT_ARCHS = {"qwen2", "qwen2vl", "qwen3", "qwen3moe", "phi3", "gemma3", "llama"}


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple[int, ...]  # ggml order: ne[0] (row length) first

    @property
    def n_elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def layer(self) -> int:
        m = re.match(r"blk\.(\d+)\.", self.name)
        return int(m.group(1)) if m else -1


def gguf_arch(a: Architecture) -> str:
    if a.hf_class and a.hf_class in HF_CLASS_TO_ARCH:
        return HF_CLASS_TO_ARCH[a.hf_class]
    return "qwen3moe" if a.experts else "llama"


def tensors(a: Architecture, arch: str | None = None) -> tuple[Tensor, ...]:
    """Tensors of the text model as llama.cpp loads them, in the loader's order (cached)."""
    return _tensors(a, arch or gguf_arch(a))


@lru_cache(maxsize=1024)
def _tensors(a: Architecture, arch: str) -> tuple[Tensor, ...]:
    h, L, hd = a.hidden_size, a.layers, a.head_dim
    q, kv, ff, V = a.attention_heads * hd, a.kv_heads * hd, a.intermediate_size, a.vocab_size
    top = [Tensor("token_embd.weight", (h, V)), Tensor("output_norm.weight", (h,))]
    if not a.tie_embeddings:
        top.append(Tensor("output.weight", (h, V)))
    if arch == "gemma3n" and a.per_layer_input_size and a.per_layer_vocab_size:
        p = a.per_layer_input_size
        top += [
            Tensor("per_layer_token_embd.weight", (p * L, a.per_layer_vocab_size)),
            Tensor("per_layer_model_proj.weight", (h, p * L)),
            Tensor("per_layer_proj_norm.weight", (p,)),
        ]
    out = sorted(top, key=lambda t: t.name)
    for i in range(L):
        b = f"blk.{i}."
        layer = [Tensor(b + "attn_norm.weight", (h,))]
        if arch == "phi3":
            layer.append(Tensor(b + "attn_qkv.weight", (h, q + 2 * kv)))
        else:
            layer += [Tensor(b + "attn_q.weight", (h, q)), Tensor(b + "attn_k.weight", (h, kv)),
                      Tensor(b + "attn_v.weight", (h, kv))]
            if a.attention_bias:
                layer += [Tensor(b + "attn_q.bias", (q,)), Tensor(b + "attn_k.bias", (kv,)),
                          Tensor(b + "attn_v.bias", (kv,))]
        layer.append(Tensor(b + "attn_output.weight", (q, h)))
        if a.qk_norm or arch in ("gemma3", "gemma3n", "qwen3", "qwen3moe"):
            layer += [Tensor(b + "attn_q_norm.weight", (hd,)), Tensor(b + "attn_k_norm.weight", (hd,))]
        if arch in ("gemma3", "gemma3n"):
            layer += [Tensor(b + "post_attention_norm.weight", (h,)), Tensor(b + "post_ffw_norm.weight", (h,))]
        if arch == "bitnet":
            layer += [Tensor(b + "attn_sub_norm.weight", (h,)), Tensor(b + "ffn_sub_norm.weight", (ff,))]
        layer.append(Tensor(b + "ffn_norm.weight", (h,)))
        if a.experts:
            e, fe = a.experts, a.moe_intermediate_size
            layer += [
                Tensor(b + "ffn_gate_inp.weight", (h, e)),
                Tensor(b + "ffn_gate_exps.weight", (h, fe, e)),
                Tensor(b + "ffn_up_exps.weight", (h, fe, e)),
                Tensor(b + "ffn_down_exps.weight", (fe, h, e)),
            ]
        elif arch == "phi3":
            layer += [Tensor(b + "ffn_up.weight", (h, 2 * ff)), Tensor(b + "ffn_down.weight", (ff, h))]
        else:
            if a.mlp == "gated":
                layer.append(Tensor(b + "ffn_gate.weight", (h, ff)))
            layer += [Tensor(b + "ffn_up.weight", (h, ff)), Tensor(b + "ffn_down.weight", (ff, h))]
        if arch == "gemma3n" and a.per_layer_input_size:
            p = a.per_layer_input_size
            layer += [Tensor(b + "inp_gate.weight", (h, p)), Tensor(b + "proj.weight", (p, h)),
                      Tensor(b + "post_norm.weight", (h,))]
        out += sorted(layer, key=lambda t: t.name)
    return tuple(out)


@lru_cache(maxsize=4096)
def layout_types(a: Architecture, quant: str, source_type: str = "BF16") -> dict[str, str]:
    """assign_types for this architecture's tensor list (cached; do not mutate the result)."""
    return assign_types(list(tensors(a)), quant, a.layers, a.attention_heads // a.kv_heads, a.experts or 0,
                        source_type=source_type)


# --------------------------------------------------------------------------- quantizer rules

_NEVER = ("_norm.weight", "ffn_gate_inp.weight", "altup", "laurel", "per_layer_model_proj")


def _allows_quantization(t: Tensor) -> bool:
    """src/llama-quant.cpp tensor_allows_quantization (the parts that concern these archs)."""
    if len(t.shape) < 2 or not t.name.endswith("weight"):
        return False
    return not any(s in t.name for s in _NEVER)


def _category(name: str) -> str:
    if name == "output.weight":
        return "output"
    if name in ("token_embd.weight", "per_layer_token_embd.weight"):
        return "token_embd"
    for key, cat in (("attn_qkv.weight", "attn_qkv"), ("attn_v.weight", "attn_v"), ("attn_k.weight", "attn_k"),
                     ("attn_q.weight", "attn_q"), ("attn_output.weight", "attn_output"),
                     ("ffn_up", "ffn_up"), ("ffn_gate", "ffn_gate"), ("ffn_down", "ffn_down")):
        if key in name:
            return cat
    return "other"


def _more_bits(i: int, n: int) -> bool:
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


def _fallback(t: Tensor, typ: str) -> str:
    ncols = t.shape[0]
    blk = GGML_TYPES[typ][0]
    if ncols % blk == 0:
        return typ
    alt = {"IQ4_XS": "IQ4_NL", "Q2_K": "Q4_0", "Q3_K": "Q4_0", "TQ1_0": "Q4_0", "TQ2_0": "Q4_0",
           "Q4_K": "Q5_0", "Q5_K": "Q5_1", "Q6_K": "Q8_0"}.get(typ, typ)
    if ncols % GGML_TYPES[alt][0] != 0:
        return "F16"
    return alt


def assign_types(ts: list[Tensor], quant: str, n_layers: int, n_gqa: int, n_expert: int = 0,
                 source_type: str = "F32") -> dict[str, str]:
    """Type of every tensor after `llama-quantize` with file type `quant` (a knowledge id).

    `source_type` is the type 2-D weights have in the input GGUF (1-D tensors stay F32).
    """
    if quant not in FILE_TYPES:
        raise KeyError(quant)
    ftype, default = FILE_TYPES[quant]
    quantized_default = default not in ("F32", "F16", "BF16")
    tied = not any(t.name == "output.weight" for t in ts)
    n_attn_v = sum(1 for t in ts if _category(t.name) in ("attn_v", "attn_qkv"))
    i_attn_v = 0
    i_down = 0
    types: dict[str, str] = {}
    for t in ts:
        if not _allows_quantization(t):
            types[t.name] = "F32" if len(t.shape) < 2 or "norm" in t.name else source_type
            continue
        if not quantized_default:
            types[t.name] = default
            continue
        cat = _category(t.name)
        new = default
        if cat == "output" or (tied and cat == "token_embd"):
            if t.shape[0] % GGML_TYPES[new][0] != 0:
                new = "Q8_0"
            elif new != "Q8_0":
                new = "Q6_K"
        elif cat == "token_embd":
            if ftype in ("MOSTLY_TQ1_0", "MOSTLY_TQ2_0"):
                new = "Q4_K"
        elif cat in ("attn_v", "attn_qkv"):
            if ftype == "MOSTLY_Q2_K":
                new = "Q4_K" if n_gqa >= 4 else "Q3_K"
            elif ftype == "MOSTLY_Q3_K_M":
                new = "Q5_K" if i_attn_v < 2 else "Q4_K"
            elif ftype == "MOSTLY_IQ4_XS" and n_gqa >= 4:
                new = "Q5_K"
            elif ftype in ("MOSTLY_Q4_K_M", "MOSTLY_Q5_K_M") and _more_bits(i_attn_v, n_attn_v):
                new = "Q6_K"
            if n_expert == 8:
                new = "Q8_0"
            i_attn_v += 1
        elif cat == "attn_k":
            if n_expert == 8:
                new = "Q8_0"
        elif cat == "ffn_down":
            i_layer = t.layer if n_expert > 1 else i_down
            if ftype == "MOSTLY_Q2_K":
                new = "Q3_K"
            elif ftype == "MOSTLY_Q3_K_M":
                new = "Q5_K" if i_layer < n_layers // 16 else "Q4_K"
            elif ftype == "MOSTLY_Q4_K_M":
                if _more_bits(i_layer, n_layers):
                    new = "Q6_K"
            elif i_layer < n_layers // 8 and ftype == "MOSTLY_IQ4_XS":
                new = "Q5_K"  # no importance matrix
            elif ftype == "MOSTLY_Q5_K_M" and _more_bits(i_layer, n_layers):
                new = "Q6_K"
            i_down += 1
        elif cat == "attn_output":
            if n_expert == 8:
                if ftype in ("MOSTLY_Q2_K", "MOSTLY_Q3_K_M", "MOSTLY_Q4_K_M", "MOSTLY_IQ4_XS"):
                    new = "Q5_K"
            elif ftype == "MOSTLY_Q2_K":
                new = "Q3_K"
            elif ftype == "MOSTLY_Q3_K_M":
                new = "Q4_K"
        types[t.name] = _fallback(t, new)
    return types


def tensor_bytes(t: Tensor, typ: str) -> int:
    blk, size = GGML_TYPES[typ]
    rows = t.n_elements // t.shape[0]
    return rows * (t.shape[0] // blk) * size


@dataclass(frozen=True)
class WeightsEstimate:
    total_bytes: int
    by_type: dict[str, int]  # bytes per ggml type
    n_params: int
    arch: str
    exact_layout: bool  # the tensor list is llama.cpp's for this arch

    @property
    def bits_per_weight(self) -> float:
        return 8 * self.total_bytes / self.n_params


@lru_cache(maxsize=4096)
def estimate_weights(a: Architecture, quant: str, source_type: str = "BF16") -> WeightsEstimate:
    """Bytes of tensor data in a GGUF of this architecture quantized to `quant`."""
    arch = gguf_arch(a)
    ts = tensors(a, arch)
    types = layout_types(a, quant, source_type)
    by_type: dict[str, int] = {}
    total = 0
    for t in ts:
        b = tensor_bytes(t, types[t.name])
        by_type[types[t.name]] = by_type.get(types[t.name], 0) + b
        total += b
    return WeightsEstimate(total, dict(sorted(by_type.items())), sum(t.n_elements for t in ts), arch,
                           arch in EXACT_ARCHS)


def supported_quants() -> Iterable[str]:
    return FILE_TYPES.keys()


# --------------------------------------------------------------------------- summaries (memoised on disk)

REPACK_RULES = {
    # ggml-cpu/repack.cpp ggml_repack_get_optimal_repack_type: type -> rows multiple, per CPU class
    "x86_avx2": ({"Q4_0", "Q4_K", "IQ4_NL"}, 8),
    "x86_avx512": ({"Q4_0", "Q4_K", "IQ4_NL", "Q2_K"}, 8),
    "arm_dotprod": ({"Q4_0", "Q4_K", "Q5_K", "Q6_K", "Q8_0", "IQ4_NL"}, 4),
}


def cpu_class(cpu_arch: str, simd) -> Optional[str]:
    simd = set(simd)
    if cpu_arch == "arm64":
        return "arm_dotprod" if {"asimddp", "dotprod", "i8mm"} & simd else None
    if "avx512f" in simd:
        return "x86_avx512"
    return "x86_avx2" if "avx2" in simd else None


def _summarise(a: Architecture, quant: str) -> dict:
    ts = tensors(a)
    types = layout_types(a, quant, "BF16")
    tied = not any(t.name == "output.weight" for t in ts)
    total, read = 0, 0
    by_type: dict[str, int] = {}
    read_by: dict[str, int] = {}
    body_by: dict[str, int] = {}  # parameters multiplied per prompt token (layer matrices; MoE: routed share)
    repack = {k: 0 for k in REPACK_RULES}
    repack_types = {k: set() for k in REPACK_RULES}
    for t in ts:
        typ = types[t.name]
        b = tensor_bytes(t, typ)
        total += b
        by_type[typ] = by_type.get(typ, 0) + b
        r = b
        if t.name == "token_embd.weight" and not tied:
            r = b // a.vocab_size  # one row per token
        elif "_exps." in t.name and a.experts:
            r = b * a.experts_per_token // a.experts
        read += r
        read_by[typ] = read_by.get(typ, 0) + r
        if t.name.startswith("blk.") and len(t.shape) >= 2:
            n = t.n_elements
            if "_exps." in t.name and a.experts:
                n = n * a.experts_per_token // a.experts
            body_by[typ] = body_by.get(typ, 0) + n
        if t.name != "token_embd.weight" and len(t.shape) >= 2:
            for cls, (ok, rows) in REPACK_RULES.items():
                if typ in ok and t.shape[1] % rows == 0:
                    repack[cls] += b
                    repack_types[cls].add(typ)
    return {"total": total, "by_type": by_type, "read": read, "read_by_type": read_by, "body_params_by_type": body_by,
            "n_params": sum(t.n_elements for t in ts), "repack": repack,
            "repack_types": {k: sorted(v) for k, v in repack_types.items()}}


_DISK: dict | None = None
_DIRTY = False


def _disk_path():
    import os
    from pathlib import Path

    if os.environ.get("ADVISOR_NO_CACHE"):
        return None
    try:
        from platformdirs import user_cache_dir
    except ImportError:  # pragma: no cover
        return None
    stamp = int(Path(__file__).stat().st_mtime)
    return Path(user_cache_dir("advisor")) / f"layouts-{stamp}.pickle"


def _save_disk() -> None:
    import os
    import pickle

    path = _disk_path()
    if path is None or not _DIRTY or _DISK is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps(_DISK, protocol=pickle.HIGHEST_PROTOCOL))
        os.replace(tmp, path)
        for old in [*path.parent.glob("layouts-*.pickle"), *path.parent.glob("layouts-*.json")]:
            if old != path:  # caches of earlier versions of this module
                old.unlink(missing_ok=True)
    except OSError:
        pass


@lru_cache(maxsize=4096)
def _arch_text(a: Architecture) -> str:
    """The architecture's every field as text (repr: no pydantic serializer to build), once per architecture."""
    return repr(a)


@lru_cache(maxsize=8192)
def layout_summary(a: Architecture, quant: str) -> dict:
    """Sizes of a GGUF layout (total, by type, read per decoded token, CPU repack copies).

    Memoised in memory and, across processes, in a pickle this module writes in the user's own cache folder
    (keyed on the architecture, the quantization and this module's version; read back only from there).
    """
    global _DISK, _DIRTY
    import hashlib

    if _DISK is None:
        _DISK = {}
        path = _disk_path()
        if path is not None and path.exists():
            import pickle

            try:
                loaded = pickle.loads(path.read_bytes())
                _DISK = loaded if isinstance(loaded, dict) else {}
            except Exception:  # noqa: BLE001 - a damaged cache is rebuilt
                _DISK = {}
        import atexit

        atexit.register(_save_disk)
    key = hashlib.sha256((_arch_text(a) + "|" + quant).encode()).hexdigest()[:24]
    hit = _DISK.get(key)
    if hit is None:
        hit = _summarise(a, quant)
        _DISK[key] = hit
        _DIRTY = True
    return hit

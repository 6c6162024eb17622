"""Memory estimate of one stack (model x quantization x runtime x backend) at a context.

Memory is a sum of parts, each derived from the architecture, the artifact and
how the runtime allocates:

- weights: the artifact's bytes (advisor.weights); on CPU, llama.cpp also keeps
  a repacked copy of the tensors its CPU kernels reorder (CPU_REPACK buffer:
  Q4_0/Q4_K/IQ4_NL with AVX2, more types on ARM with dotprod/i8mm), while the
  mapped originals stay resident;
- KV cache: per layer that keeps a cache, (K + V) row bytes x cells, where the
  cells are the padded context for full-attention layers and the window for
  sliding-window layers when the runtime trims them; quantized KV types use
  their block sizes;
- buffers: llama.cpp's output buffer and the part of its compute buffer that a
  generation run actually touches (attention scores without flash attention,
  the feed-forward activations of a micro-batch), per runtime for the others;
- overhead: the process before loading (interpreter or server binary) and the
  vocabulary tables;
- encoders: image/audio towers of multimodal models, at 16 bits.

Every estimate lists its assumptions with where each number came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional

from .errors import InputError
from .gguf import FILE_TYPES, cpu_class, gguf_arch, layout_summary
from .schemas import Architecture, Model, Runtime
from .weights import quant_weights

MiB = 1024**2
GiB = 1024**3

# ggml KV-cache element types -> (block, bytes per block): ggml.c type_traits
KV_TYPES = {"f32": (1, 4), "f16": (1, 2), "bf16": (1, 2), "q8_0": (32, 34), "q4_0": (32, 18),
            "q4_1": (32, 20), "q5_0": (32, 22), "q5_1": (32, 24), "iq4_nl": (32, 18)}

LLAMA_CPP_FAMILY = {"llama.cpp", "ollama", "bitnet.cpp"}

# Measured on llama-cpp-python 0.3.36 (profiling/runner.py, see knowledge/profiles/): resident
# memory of llama.cpp's vocabulary tables after load, ~4 MiB + ~180 bytes per token, and the
# attention-score factor without flash attention (scores + softmax overlap, ~1.5x one KQ tensor;
# Gemma 3 keeps ~2x).
VOCAB_BASE = 4 * MiB
VOCAB_PER_TOKEN = 180
KQ_FACTOR = {"gemma3": 2.0, "gemma3n": 2.0}
KQ_FACTOR_DEFAULT = 1.5
COMPUTE_SLACK = 16 * MiB


@dataclass(frozen=True)
class Target:
    """What the stack runs on: enough of a hardware profile for the allocator rules."""

    cpu_arch: str = "x86_64"          # x86_64 | arm64
    simd: tuple[str, ...] = ("avx2",)
    backend: str = "cpu"              # cpu | cuda | metal | vulkan | ...
    memory_gb: Optional[float] = None
    os: Optional[str] = None          # linux | macos | windows | android | ios (None: unknown)


# Where the mapped originals of llama.cpp's repacked tensors were shown to be reclaimable under a real
# per-process memory limit (tests/test_memory_limit.py runs a stack whose peak exceeds a cgroup limit but
# whose required figure fits, to completion). Elsewhere what must fit is the whole peak.
RECLAIM_SHOWN_ON = frozenset({"linux"})


@dataclass(frozen=True)
class LlamaCppSettings:
    n_ctx: int
    n_batch: int = 2048
    n_ubatch: int = 512
    flash_attn: bool = True
    swa_full: bool = False
    type_k: str = "f16"
    type_v: str = "f16"
    n_seq: int = 1
    frontend: str = "llama-server"
    base_overhead: int = 16 * MiB


@dataclass
class MemoryEstimate:
    weights: int
    kv_cache: int
    buffers: int
    overhead: int
    encoders: int
    details: dict[str, int] = field(default_factory=dict)
    assumptions: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    reclaimable: int = 0   # counted in the resident peak but clean file pages the kernel may drop

    @property
    def total(self) -> int:
        """The resident peak (what RSS shows)."""
        return self.weights + self.kv_cache + self.buffers + self.overhead + self.encoders

    @property
    def required(self) -> int:
        """What must fit in the budget: the peak less reclaimable page cache."""
        return self.total - self.reclaimable

    def breakdown_gb(self, required: bool = False) -> dict[str, float]:
        """Parts in GB; with required=True the weights leave out the reclaimable file cache."""
        out = {k: round(getattr(self, k) / 1e9, 3) for k in ("weights", "kv_cache", "buffers", "overhead", "encoders")}
        if required and self.reclaimable:
            out["weights"] = round((self.weights - self.reclaimable) / 1e9, 3)
        return out


def _pad(x: int, to: int) -> int:
    return -(-x // to) * to


def _row_bytes(n: int, typ: str) -> int:
    blk, size = KV_TYPES[typ]
    if n % blk:
        raise InputError("--kv-cache", f"type {typ} needs rows that are a multiple of {blk}", "f16, q8_0, q4_0")
    return n // blk * size


# --------------------------------------------------------------------------- layers


def kv_layers(a: Architecture, arch: str, sliding_honoured: bool = True) -> tuple[int, int]:
    """(full-attention layers, sliding-window layers) that hold their own KV cache."""
    n = a.layers - (a.kv_shared_layers or 0)
    if not a.sliding_window or not sliding_honoured:
        return n, 0
    if a.sliding_window_pattern:
        local, glob = (int(x) for x in a.sliding_window_pattern.split(":"))
        period = local + glob
        n_global = sum(1 for i in range(n) if (i + 1) % period == 0) if glob else 0
        return n_global, n - n_global
    return 0, n  # every layer slides


def sliding_in_runtime(a: Architecture, arch: str, runtime_id: str) -> bool:
    """Whether the runtime trims sliding-window layers' caches for this architecture.

    llama.cpp loads Phi-3's sliding_window but disables it (src/models/phi3.cpp:
    "Phi SWA is currently disabled"), so every Phi-3 layer keeps the full context.
    """
    if runtime_id in LLAMA_CPP_FAMILY and arch == "phi3":
        return False
    return True


BUNDLING_FORMATS = ("litertlm",)  # containers that hold tokenizer, encoders and weights in one listed file


# --------------------------------------------------------------------------- process overheads


def process_overhead_bytes(runtime_id: str, rt: Runtime | None = None, backend: str = "cpu",
                           frontend: str | None = None) -> int:
    """The runtime's process before any weight is loaded: the one figure the exact memory model and the
    vectorised screen (advisor.screen) both use. llama.cpp family: the frontend binary (measured);
    Transformers: PyTorch imported (measured on the CPU) or the CUDA context; the others as noted there."""
    if runtime_id in ("llama.cpp", "ollama", "bitnet.cpp"):
        fe = frontend or {"ollama": "ollama", "bitnet.cpp": "bitnet.cpp"}.get(runtime_id, "llama-server")
        return {"llama-cpp-python": 40, "bitnet.cpp": 40, "ollama": 200}.get(fe, 16) * MiB
    if runtime_id == "transformers":
        if backend == "cuda":
            return 600 * MiB
        return int(float(_param(rt, "cpu_process_overhead_mib", 900)) * MiB)
    if runtime_id == "vllm":
        return 512 * MiB
    if runtime_id in ("onnxruntime-genai", "foundry-local"):
        return 250 * MiB
    return 300 * MiB  # mlx and any other library runtime


# --------------------------------------------------------------------------- llama.cpp


def llama_cpp_settings(runtime_id: str, context: int, frontend: str | None, kv: str,
                       rt: Runtime | None) -> LlamaCppSettings:
    """Defaults of the frontend that runs llama.cpp (server/CLI, llama-cpp-python, Ollama)."""
    frontend = frontend or {"ollama": "ollama", "bitnet.cpp": "bitnet.cpp"}.get(runtime_id, "llama-server")
    if frontend == "llama-cpp-python":
        # llama_cpp.Llama(): n_batch=512, flash_attn=False, swa_full from llama_context_default_params (true)
        return LlamaCppSettings(context, n_batch=512, n_ubatch=512, flash_attn=False, swa_full=True,
                                type_k=kv, type_v=kv, frontend=frontend,
                                base_overhead=process_overhead_bytes(runtime_id, rt, frontend=frontend))
    if frontend == "bitnet.cpp":  # run_inference.py passes no cache type: the KV cache stays f16
        return LlamaCppSettings(context, n_batch=2048, n_ubatch=512, flash_attn=False, swa_full=True,
                                type_k="f16", type_v="f16", frontend=frontend,
                                base_overhead=process_overhead_bytes(runtime_id, rt, frontend=frontend))
    ub = 512
    if rt is not None and "n_ubatch" in rt.memory:
        ub = int(rt.memory["n_ubatch"].value)
    return LlamaCppSettings(context, n_batch=2048, n_ubatch=ub, flash_attn=True, swa_full=False,
                            type_k=kv, type_v=kv, frontend=frontend,
                            base_overhead=process_overhead_bytes(runtime_id, rt, frontend=frontend))


def llama_cpp_memory(m: Model, quant: str, s: LlamaCppSettings, target: Target, runtime_id: str,
                     weight_bytes: int | None = None) -> MemoryEstimate:
    a = m.architecture
    arch = gguf_arch(a)
    notes: list[str] = []
    if quant in FILE_TYPES:
        summ = layout_summary(a, quant)
        w_mapped = summ["total"]
        notes.append(f"weights {w_mapped / MiB:.0f} MiB: tensor data of the GGUF from the config's shapes and "
                     f"llama-quantize's per-tensor types ({quant.upper()})")
    else:
        summ = None
        w_mapped = weight_bytes or 0
        notes.append(f"weights {w_mapped / MiB:.0f} MiB: artifact size")
    if weight_bytes and quant in FILE_TYPES and abs(weight_bytes - w_mapped) > 0.02 * w_mapped:
        notes.append(f"the listed artifact is {weight_bytes / MiB:.0f} MiB; its size is used")
        w_mapped = max(w_mapped, weight_bytes)
    cls = cpu_class(target.cpu_arch, target.simd) if target.backend == "cpu" else None
    repack = summ["repack"][cls] if (summ and cls) else 0
    reclaim = repack if target.os in RECLAIM_SHOWN_ON else 0
    if repack and reclaim:
        notes.append(f"CPU_REPACK copy {repack / MiB:.0f} MiB: llama.cpp reorders "
                     f"{', '.join(summ['repack_types'][cls])} tensors for its CPU kernels; the mapped originals "
                     "stay resident after loading (ggml-cpu/repack.cpp) but are clean file pages the kernel can "
                     "drop under memory pressure (shown under a cgroup memory limit on Linux), so they count in "
                     "the peak, not in what must fit")
    elif repack:
        notes.append(f"CPU_REPACK copy {repack / MiB:.0f} MiB: llama.cpp reorders "
                     f"{', '.join(summ['repack_types'][cls])} tensors for its CPU kernels while the mapped originals "
                     f"stay resident; that those pages are reclaimable was shown only on Linux, so on "
                     f"{target.os or 'an unknown OS'} what must fit is the whole peak")

    # KV cache (src/llama-kv-cache.cpp, llama-kv-cache-iswa.cpp)
    n_ctx = _pad(s.n_ctx, 256)
    honour = sliding_in_runtime(a, arch, runtime_id)
    full, swa = kv_layers(a, arch, honour)
    if a.sliding_window and not honour:
        notes.append(f"{arch}: llama.cpp disables this model's sliding window, every layer keeps {n_ctx} cells")
    swa_cells = n_ctx if s.swa_full else min(n_ctx, _pad(a.sliding_window * s.n_seq + s.n_ubatch, 256)) if swa else 0
    kvdim = a.kv_heads * a.head_dim
    row = _row_bytes(kvdim, s.type_k) + _row_bytes(kvdim, s.type_v)
    kv = full * n_ctx * row + swa * swa_cells * row
    kv_note = f"KV cache: {full} layers x {n_ctx} cells"
    if swa:
        kv_note += f" + {swa} sliding-window layers x {swa_cells} cells" + (" (swa_full)" if s.swa_full else "")
    kv_note += f" x {row} bytes (K {s.type_k} + V {s.type_v}, {a.kv_heads} KV heads x {a.head_dim})"
    if a.kv_shared_layers:
        kv_note += f"; {a.kv_shared_layers} layers reuse earlier caches"
    notes.append(kv_note)

    # buffers: output + the compute buffer a generation touches
    ub = min(s.n_ubatch, n_ctx)
    out_buf = _pad(a.vocab_size * 4 * s.n_seq, 2**20)  # llama.cpp output buffer: logits of one row per sequence
    n_kv = n_ctx if full else swa_cells
    q = a.attention_heads * a.head_dim
    h = a.hidden_size
    if a.experts:
        ffn = ub * 4 * (4 * a.experts_per_token * a.moe_intermediate_size + 2 * a.experts_per_token * h)
    else:
        ffn = ub * 4 * 4 * a.intermediate_size
    qkv = ub * 4 * (q + 2 * kvdim + 2 * h)
    masks = 2 if (swa and full) else 1  # sliding-window models build a second mask
    if s.flash_attn:
        attn = masks * n_kv * ub * (4 + 2) + qkv  # f32 mask and its f16 copy
    else:
        kq = ub * n_kv * a.attention_heads * 4
        attn = KQ_FACTOR.get(arch, KQ_FACTOR_DEFAULT) * kq + masks * n_kv * ub * 4 + qkv
    logits = a.vocab_size * 4 + ub * h * 4
    compute = int(max(ffn, attn, logits)) + COMPUTE_SLACK
    if target.backend != "cpu":
        # device buffers are allocated whole: the reserved worst case (all ubatch logits)
        compute = max(compute, a.vocab_size * ub * 4 + qkv)
    notes.append(
        f"compute buffer touched {compute / MiB:.0f} MiB: max of feed-forward activations "
        f"({ffn / MiB:.0f}), attention ({'flash attention' if s.flash_attn else 'scores kept'}, "
        f"{attn / MiB:.0f}) and logits ({logits / MiB:.1f}) for a {ub}-token micro-batch"
    )
    vocab = VOCAB_BASE + VOCAB_PER_TOKEN * a.vocab_size
    overhead = s.base_overhead + vocab
    notes.append(f"overhead {overhead / MiB:.0f} MiB: {s.frontend} process {s.base_overhead / MiB:.0f} MiB "
                 f"(measured) + vocabulary tables ~{vocab / MiB:.0f} MiB")
    return MemoryEstimate(
        weights=w_mapped + repack, kv_cache=kv, buffers=out_buf + compute, overhead=overhead, encoders=0,
        reclaimable=reclaim,
        details={"weights_mapped": w_mapped, "weights_repack": repack, "output_buffer": out_buf,
                 "compute_buffer": compute, "vocab": vocab, "process": s.base_overhead},
        assumptions=notes,
        settings={"n_ctx": n_ctx, "n_ubatch": ub, "flash_attn": s.flash_attn, "swa_full": s.swa_full,
                  "type_k": s.type_k, "type_v": s.type_v, "frontend": s.frontend},
    )


# --------------------------------------------------------------------------- other runtimes


def _kv_16bit(a: Architecture, context: int, elem: float, sliding: bool = True) -> int:
    full, swa = kv_layers(a, "", sliding)
    cells_swa = min(context, a.sliding_window or context)
    return int((full * context + swa * cells_swa) * 2 * a.kv_heads * a.head_dim * elem)


def _param(rt: Runtime | None, key: str, default):
    if rt is not None and key in rt.memory:
        v = rt.memory[key].value
        return v
    return default


def generic_memory(m: Model, quant: str, runtime_id: str, context: int, kv: str, rt: Runtime | None,
                   weight_bytes: int, target: Target) -> MemoryEstimate:
    a = m.architecture
    notes = [f"weights {weight_bytes / MiB:.0f} MiB ({quant})"]
    elem = {"f16": 2.0, "bf16": 2.0, "fp8": 1.0, "q8_0": 1.0625, "q4_0": 0.5625}.get(kv, 2.0)
    if kv in ("q8_0", "q4_0"):
        if runtime_id == "vllm":  # --kv-cache-dtype takes auto or fp8 (and variants); no 4-bit cache
            elem = 1.0
            notes.append(f"KV cache {kv} asked: vLLM stores it as fp8 (--kv-cache-dtype fp8), 1 byte per element")
        else:
            elem = 2.0
            notes.append(f"KV cache {kv} asked: {runtime_id} keeps it in 16 bits (no quantized cache in its "
                         "generated settings)")
    h = a.hidden_size
    if runtime_id == "vllm":
        util = float(_param(rt, "gpu_memory_utilization", 0.92))
        kv_bytes = _kv_16bit(a, context, elem)
        act = int(2048 * (4 * a.intermediate_size + 4 * h) * 2 + a.vocab_size * 256 * 4)
        graphs = 512 * MiB
        notes.append(f"vLLM pre-allocates gpu_memory_utilization={util} of device memory; the stack needs "
                     f"weights + KV for one {context}-token sequence + activations for max_num_batched_tokens "
                     f"+ CUDA graphs inside that share")
        notes.append("CUDA context ~0.5 GiB outside the pool (estimate)")
        return MemoryEstimate(weight_bytes, kv_bytes, act + graphs, process_overhead_bytes("vllm", rt), 0,
                              assumptions=notes,
                              settings={"gpu_memory_utilization": util})
    if runtime_id == "transformers":
        kv_bytes = _kv_16bit(a, context, elem)
        act = int(min(context, 2048) * (4 * a.intermediate_size + 6 * h) * 2 + a.vocab_size * 4 * 2)
        overhead = process_overhead_bytes("transformers", rt, target.backend)
        what = ("CUDA context on the device (estimate)" if target.backend == "cuda" else
                "the process with PyTorch and Transformers imported, before any weight (measured)")
        notes.append("Transformers: dynamic KV cache grows to the context in the model dtype; "
                     "activations of a 2048-token prefill chunk; logits of the last token in float32")
        notes.append(f"overhead {overhead / MiB:.0f} MiB: {what}")
        return MemoryEstimate(weight_bytes, kv_bytes, act, overhead, 0, assumptions=notes)
    if runtime_id in ("onnxruntime-genai", "foundry-local"):
        kv_bytes = _kv_16bit(a, context, 2.0)
        act = int(min(context, 512) * (4 * a.intermediate_size + 4 * h) * 4 + a.vocab_size * 4 * 2)
        overhead = process_overhead_bytes(runtime_id, rt)
        notes.append("ONNX Runtime GenAI: past_present_share_buffer pre-allocates the KV cache for max_length "
                     "(= the context) in float16")
        return MemoryEstimate(weight_bytes, kv_bytes, act, overhead, 0, assumptions=notes)
    if runtime_id == "mlx":
        step = int(_param(rt, "kv_cache_growth_step", 256))
        kv_bytes = _kv_16bit(a, _pad(context, step), elem)
        act = int(min(context, 2048) * (4 * a.intermediate_size + 4 * h) * 2)
        notes.append(f"MLX: KV cache grows in steps of {step} tokens in float16; unified memory")
        return MemoryEstimate(weight_bytes, kv_bytes, act, process_overhead_bytes("mlx", rt), 0, assumptions=notes)
    if runtime_id == "litert-lm":
        kv_bytes = _kv_16bit(a, context, elem)
        act = int(min(context, 512) * (4 * a.intermediate_size + 4 * h) * 4 + a.vocab_size * 4 * 2)
        notes.append("LiteRT-LM: the .litertlm file fixes its context; KV cache for it in 16 bits (estimate); "
                     "weights at the file's 4-bit per-channel size")
        return MemoryEstimate(weight_bytes, kv_bytes, act, process_overhead_bytes(runtime_id, rt), 0,
                              assumptions=notes)
    raise InputError("--runtime", f"no memory model for runtime '{runtime_id}'")


# --------------------------------------------------------------------------- entry point


def estimate_memory(m: Model, quant: str, runtime_id: str, context: int, *, kv: str = "f16",
                    rt: Runtime | None = None, target: Target | None = None, frontend: str | None = None,
                    listed_bytes: int | None = None, quantization=None,
                    overrides: dict | None = None) -> MemoryEstimate:
    """`overrides` sets llama.cpp settings (flash_attn, swa_full, n_ubatch, n_batch) a run used."""
    target = target or Target()
    if kv not in KV_TYPES and kv != "fp8":
        raise InputError("--kv-cache", f"unknown KV cache type '{kv}'", "f16, q8_0, q4_0")
    if m.availability != "open-weights" or m.architecture is None:
        est = MemoryEstimate(0, 0, 0, 0, 0, assumptions=[
            f"{m.name} is a {m.availability} model: Windows manages its memory; no figure is published"])
        return est
    a = m.architecture
    if context > (a.extended_context_length or a.context_length):
        raise InputError("--context", f"{m.name} supports at most {a.extended_context_length or a.context_length} tokens",
                         f"1 to {a.extended_context_length or a.context_length}")
    enc = int(sum(e.params_b for e in m.encoders) * 1e9 * 2)
    if runtime_id in LLAMA_CPP_FAMILY:
        s = llama_cpp_settings(runtime_id, context, frontend, kv, rt)
        if overrides:
            s = replace(s, **{k: v for k, v in overrides.items() if k in LlamaCppSettings.__dataclass_fields__})
        est = llama_cpp_memory(m, quant, s, target, runtime_id, listed_bytes)
    bundled = False  # a listed file whose container holds the encoders too: its size is the whole model
    if runtime_id not in LLAMA_CPP_FAMILY:
        if quantization is None:
            raise InputError("--quant", f"unknown quantization '{quant}'")
        bundled = bool(listed_bytes) and quantization.format in BUNDLING_FORMATS
        ws = quant_weights(m, quant, quantization)
        wb = listed_bytes or (ws.bytes if ws else 0)
        if ws and ws.includes_encoders and not bundled:
            wb -= enc  # encoders are reported on their own line
        est = generic_memory(m, quant, runtime_id, context, kv, rt, wb, target)
    if enc and bundled:
        est.assumptions.append(f"encoders: inside the .{quantization.format} file (its listed size), not counted again")
    elif enc and m.modalities_in != ["text"]:
        est.encoders = enc
        names = ", ".join(f"{e.name.split('(')[0].strip()} {e.params_b:g} B" for e in m.encoders)
        est.assumptions.append(f"encoders {enc / MiB:.0f} MiB at 16 bits: {names} (loaded for image/audio input)")
    return est


def fits(total_bytes: int, budget_gb: float, headroom: float = 0.0) -> bool:
    return total_bytes <= budget_gb * 1e9 * (1 - headroom)


def gb(x: int) -> float:
    return round(x / 1e9, 3)



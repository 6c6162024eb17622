"""Partial offload (llama.cpp `-ngl N`): a model that does not fit VRAM but fits VRAM + RAM.

Layer placement follows llama.cpp's loader (src/llama-model.cpp, load_tensors):
`i_gpu_start = max(n_layer + 1 - n_gpu_layers, 0)` over n_layer + 1 slots, the last slot being the output
layer; the input embedding always stays on the CPU. So `-ngl N` (N <= n_layer) puts the output layer and
the last N - 1 blocks in VRAM, the first n_layer - N + 1 blocks and the embedding in RAM. With tied
embeddings the output layer is a copy of the embedding matrix on the output layer's device.
Source: https://github.com/ggml-org/llama.cpp/blob/master/src/llama-model.cpp (load_tensors).

Decode passes every layer once per token, each on its own device: its time is the GPU's time for the
bytes in VRAM plus the CPU's time for the bytes in RAM (each device's own roofline and fitted efficiency),
the hidden state crossing PCIe twice per token (a few KB, neglected). Prefill: for a batch of 32 tokens or
more the CUDA backend runs the matrix products of CPU-resident layers on the GPU too, copying their weights
over PCIe once per micro-batch (ggml-cuda.cu, ggml_backend_cuda_device_offload_op: min_batch_size 32;
https://github.com/ggml-org/llama.cpp/blob/master/ggml/src/ggml-cuda/ggml-cuda.cu), so a prompt token
costs the full-GPU prefill time plus the CPU-resident bytes / (PCIe bandwidth x micro-batch). PCIE_GBPS
is PCIe 4.0 x16's raw rate (16 GT/s x 16 lanes x 128/130 / 8, PCI-SIG), an upper bound: the estimate is
the fast end, and the CPU's own prefill (layer share by layer share) is the slow end of its range.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .gguf import gguf_arch, layout_types, tensor_bytes, tensors
from .schemas import Architecture

GROUP = ("llama.cpp", "ollama", "llama-cpp-python")   # the runtimes that take -ngl (Ollama: num_gpu)
GPU_BACKENDS = ("cuda", "rocm", "vulkan", "sycl")
PCIE_GBPS = 31.5   # PCIe 4.0 x16, GB/s per direction (16 GT/s x 16 x 128/130 / 8)
UBATCH = 512       # llama.cpp's default micro-batch (n_ubatch)


@dataclass(frozen=True)
class OffloadPlan:
    gpu_layers: int            # the -ngl value (layer slots on the GPU, the output layer counted)
    layers: int                # repeating blocks of the model
    vram_bytes: int            # what must fit in VRAM
    ram_bytes: int             # what must fit in system RAM
    gpu_share: float           # share of the bytes read per decoded token that sit in VRAM
    cpu_weight_bytes: int = 0  # weights of the CPU-resident blocks (copied to the GPU for large batches)

    @property
    def blocks_on_gpu(self) -> int:
        return max(self.gpu_layers - 1, 0)


def layer_bytes(a: Architecture, quant: str) -> tuple[list[int], int, int]:
    """(bytes of each block, bytes of the input embedding, bytes of the output layer) in the GGUF."""
    arch = gguf_arch(a)
    types = layout_types(a, quant)
    blocks = [0] * a.layers
    embd = out = 0
    for t in tensors(a, arch):
        b = tensor_bytes(t, types[t.name])
        if t.layer >= 0:
            if t.layer < a.layers:
                blocks[t.layer] += b
        elif t.name.startswith("token_embd"):
            embd += b
        elif t.name.startswith("output"):
            out += b
        else:
            embd += b  # other input-side tables (per-layer embeddings) stay on the CPU too
    if a.tie_embeddings:
        out += embd  # the output layer's copy of the tied embedding matrix
    return blocks, embd, out


def plan(a: Architecture, quant: str, *, kv_bytes: int, gpu_buffers: int, host_bytes: int,
         vram_budget: float, ram_budget: float) -> Optional[OffloadPlan]:
    """The largest -ngl whose VRAM part fits `vram_budget` bytes, with the rest inside `ram_budget`; None
    when even one layer slot does not fit or the rest does not fit RAM. `host_bytes`: what stays in RAM
    whatever the split (process overhead, encoders); `gpu_buffers`: the compute buffer on the GPU."""
    blocks, embd, out = layer_bytes(a, quant)
    n = a.layers
    kv_per_block = kv_bytes / n if n else 0.0
    best = None
    for ngl in range(1, n + 1):
        on_gpu = blocks[n - (ngl - 1):] if ngl > 1 else []
        vram = out + sum(on_gpu) + kv_per_block * len(on_gpu) + gpu_buffers
        if vram > vram_budget:
            break
        cpu_blocks = blocks[:n - len(on_gpu)]
        # the CPU side keeps its own compute buffer for the layers it runs (the same size as the GPU's)
        ram = embd + sum(cpu_blocks) + kv_per_block * len(cpu_blocks) + host_bytes + gpu_buffers
        if ram > ram_budget:
            continue
        read_gpu = out + sum(on_gpu) + kv_per_block * len(on_gpu)
        read_cpu = sum(cpu_blocks) + kv_per_block * len(cpu_blocks)  # one embedding row per token: neglected
        best = OffloadPlan(ngl, n, int(vram), int(ram), read_gpu / max(read_gpu + read_cpu, 1), sum(cpu_blocks))
    return best


def combine(gpu_seconds: float, cpu_seconds: float, share: float) -> float:
    """Seconds per token when `share` of the per-token work runs at the GPU's rate and the rest at the CPU's."""
    return share * gpu_seconds + (1 - share) * cpu_seconds


def offload_speed(gpu, cpu, p: OffloadPlan, prompt_tokens: int):
    """The speed of the split stack from the full-GPU and the all-CPU estimates of the same stack."""
    from dataclasses import replace

    s = p.gpu_share
    dec = 1 / combine(1 / gpu.decode_tps, 1 / cpu.decode_tps, s)
    lo = 1 / combine(1 / gpu.decode_tps_range[0], 1 / cpu.decode_tps_range[0], s)
    hi = 1 / combine(1 / gpu.decode_tps_range[1], 1 / cpu.decode_tps_range[1], s)
    pre = ttft = None
    if gpu.prefill_tps:
        batch = min(max(prompt_tokens, 1), UBATCH)
        if batch >= 32:  # the CPU-resident weights cross PCIe once per micro-batch
            pre = 1 / (1 / gpu.prefill_tps + p.cpu_weight_bytes / (PCIE_GBPS * 1e9 * batch))
        elif cpu.prefill_tps:
            pre = 1 / combine(1 / gpu.prefill_tps, 1 / cpu.prefill_tps, s)
        if pre:
            ttft = (prompt_tokens / pre + 1 / dec) * 1000
    basis = "estimated" if "estimated" in (gpu.basis, cpu.basis) else "calibrated"
    notes = list(gpu.assumptions) + [
        f"partial offload -ngl {p.gpu_layers}: the output layer and {p.blocks_on_gpu} of {p.layers} blocks in VRAM "
        f"({s:.0%} of the bytes read per token), the rest on the CPU; per token {1 / gpu.decode_tps * s * 1e3:.1f} ms "
        f"on the GPU + {1 / cpu.decode_tps * (1 - s) * 1e3:.1f} ms on the CPU (the CPU part at the CPU's own estimate: "
        + "; ".join(a for a in cpu.assumptions if a.startswith("bandwidth") or a.startswith("decode efficiency"))[:300]
        + ")",
    ]
    if pre:
        notes.append(f"prefill of the split stack: the GPU's prefill plus {p.cpu_weight_bytes / 1e9:.1f} GB of "
                     f"CPU-resident weights copied over PCIe per micro-batch of {min(max(prompt_tokens, 1), UBATCH)} "
                     f"tokens at {PCIE_GBPS:g} GB/s (PCIe 4.0 x16, an upper bound)")
    return replace(gpu, decode_tps=dec, decode_tps_range=(min(lo, dec), max(hi, dec)), prefill_tps=pre, ttft_ms=ttft,
                   basis=basis, assumptions=notes)

"""Pydantic models of everything that crosses a boundary.

Knowledge-base entities (one YAML file each under ``knowledge/``) are strict:
unknown fields are errors, units sit in field names, and every figure is tied
to a named source through ``provenance`` (field path -> key in ``sources``).
The id of an entity is its file name; it is never repeated inside the file.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SCHEMA_VERSION = 1

Modality = Literal["text", "image", "audio", "video"]
Platform = Literal["linux", "windows", "macos", "android", "ios"]
Backend = Literal[
    "cpu", "cuda", "rocm", "metal", "vulkan", "directml", "qnn", "openvino", "webgpu", "npu"
]
Availability = Literal["open-weights", "platform-builtin", "system-component"]
SourceKind = Literal[
    "model_card",   # the model's Hugging Face (or vendor) card
    "config",       # config.json (or params.json) of the checkpoint
    "hf_files",     # a Hugging Face file listing (sizes of artifacts)
    "hf_metadata",  # Hugging Face repository metadata (e.g. safetensors parameter count)
    "paper",        # a technical report or paper
    "vendor_doc",   # official documentation of a vendor or project
    "blog",         # an official blog post of the vendor
    "code",         # source code (a file in a public repository)
    "leaderboard",  # a public leaderboard
    "course",       # the seed course (kept to record where it disagrees)
    "measured",     # a measured profile in knowledge/profiles or the user's store
    "estimate",     # computed by the advisor from other sourced figures
]
TASKS = (
    "chat", "instruct", "code", "math", "reasoning", "thinking-mode", "function-calling",
    "summarization", "translation", "vision-qa", "ocr", "speech-recognition",
    "speech-translation", "audio-qa", "video-qa", "rag", "agent", "text-rewrite",
    "settings-agent",
)
Task = Literal[TASKS]  # type: ignore[valid-type]

# Fields that are labels or containers, not facts needing a provenance entry.
LABEL_FIELDS = frozenset({
    "schema_version", "sources", "provenance", "notes", "name", "family", "series", "hf_repo", "kind", "format",
    "typical_for_size",
})

_ISO639_1 = re.compile(r"^[a-z]{2}$")
_PATTERN = re.compile(r"^\d+:\d+$")


class Strict(BaseModel):
    # validators are built on first validation: a catalog loaded from the cache never needs them
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Source(Strict):
    kind: SourceKind
    ref: str = Field(description="URL, or a path to a measured-profile file")
    title: Optional[str] = None
    note: Optional[str] = None
    retrieved: Optional[str] = Field(None, description="YYYY-MM-DD when the fact was read")


SourceKey = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")]
ProvenanceValue = Union[SourceKey, list[SourceKey]]


class Sourced(Strict):
    """Base for entities: named sources, and which source backs which field."""

    schema_version: int = SCHEMA_VERSION
    sources: dict[SourceKey, Source]
    provenance: dict[str, ProvenanceValue] = Field(
        default_factory=dict,
        description="field path (dotted for sub-fields) -> source key(s)",
    )
    notes: list[str] = Field(default_factory=list)

    @field_validator("schema_version")
    @classmethod
    def _version(cls, v: int) -> int:
        if v != SCHEMA_VERSION:
            raise ValueError(f"must be {SCHEMA_VERSION}")
        return v


# --------------------------------------------------------------------------- families


class Family(Sourced):
    name: str
    vendor: str
    description: str
    license_default: Optional[str] = None


# --------------------------------------------------------------------------- models


class Architecture(Strict):
    """Numbers exactly as the checkpoint's config.json gives them."""

    kind: Literal["decoder", "encoder-decoder"] = "decoder"
    hf_class: Optional[str] = Field(None, description="config.json `architectures[0]`, e.g. Qwen3ForCausalLM")
    layers: int = Field(gt=0)
    hidden_size: int = Field(gt=0)
    intermediate_size: int = Field(gt=0, description="dense MLP width (per layer)")
    attention_heads: int = Field(gt=0)
    kv_heads: int = Field(gt=0)
    head_dim: int = Field(gt=0)
    vocab_size: int = Field(gt=0)
    context_length: int = Field(gt=0, description="native context in tokens the card supports (else max_position_embeddings)")
    max_position_embeddings: Optional[int] = Field(None, description="config value, where it differs from context_length")
    extended_context_length: Optional[int] = Field(None, description="context with a documented extension (e.g. YaRN)")
    extended_context_method: Optional[str] = None
    sliding_window: Optional[int] = Field(
        None, description="window in tokens of the sliding-window layers; null: none"
    )
    sliding_window_pattern: Optional[str] = Field(
        None,
        description="local:global layer ratio, e.g. '5:1'; null with a window set: every layer slides",
    )
    tie_embeddings: bool
    experts: Optional[int] = None
    experts_per_token: Optional[int] = None
    moe_intermediate_size: Optional[int] = None
    shared_experts: Optional[int] = None
    shared_expert_intermediate_size: Optional[int] = None
    mlp: Literal["gated", "plain"] = Field("gated", description="gated: gate+up+down; plain: up+down")
    activation: Optional[str] = None
    attention_bias: bool = Field(False, description="q/k/v projections carry biases")
    qk_norm: bool = False
    kv_shared_layers: Optional[int] = Field(
        None, description="layers that reuse an earlier layer's KV cache (Gemma 3n)"
    )
    per_layer_input_size: Optional[int] = Field(
        None, description="Gemma 3n hidden_size_per_layer_input (Per-Layer Embeddings)"
    )
    per_layer_vocab_size: Optional[int] = Field(
        None, description="Gemma 3n vocab_size_per_layer_input"
    )
    rope_theta: Optional[float] = None

    @field_validator("sliding_window_pattern")
    @classmethod
    def _pattern(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not _PATTERN.match(v):
            raise ValueError("must look like 'LOCAL:GLOBAL', e.g. '5:1'")
        return v

    @model_validator(mode="after")
    def _moe(self) -> "Architecture":
        moe = (self.experts, self.experts_per_token, self.moe_intermediate_size)
        if any(x is not None for x in moe) and not all(x is not None for x in moe):
            raise ValueError(
                "experts, experts_per_token and moe_intermediate_size are set together"
            )
        return self


class Benchmark(Strict):
    name: str
    value: float
    unit: Literal["%", "score", "elo", "ratio"] = "%"
    setting: str = Field(description="shots, prompting, thinking on/off, evaluator")
    source: SourceKey


class Artifact(Strict):
    format: Literal["gguf", "safetensors", "onnx", "mlx", "litertlm", "sbs", "platform"]
    quantization: str = Field(description="id of a knowledge/quantizations entry")
    hf_repo: Optional[str] = None
    file: Optional[str] = Field(None, description="file (or folder) inside hf_repo")
    size_bytes: Optional[int] = Field(None, gt=0)
    size_estimated: bool = Field(
        False, description="true when size_bytes was computed, not read from a file listing"
    )
    official: bool = Field(True, description="published by the model's own vendor")
    context_length: Optional[int] = Field(None, gt=0, description="the context the file is fixed to, where it is")
    note: Optional[str] = None
    source: SourceKey


class Encoder(Strict):
    modality: Modality
    name: str
    params_b: float = Field(gt=0)
    source: SourceKey


class ModalitySupport(Strict):
    """A runtime that takes some of a model's non-text inputs (a runtime may load only the text part)."""

    runtime: str = Field(description="id of a knowledge/runtimes entry")
    modalities: list[Modality] = Field(description="non-text inputs this runtime accepts for this model")
    since: Optional[str] = Field(None, description="runtime version or date the support arrived")
    note: Optional[str] = None
    source: SourceKey


class PublishedPerformance(Strict):
    metric: str = Field(description="e.g. decode_tokens_per_s, prefill_tokens_per_s, power_w")
    value: float
    unit: str
    hardware: str
    setting: Optional[str] = None
    source: SourceKey


class Correction(Strict):
    """Where the seed course and a primary source disagree; the primary value is the one recorded."""

    field: str
    course_says: str
    primary_says: str
    source: SourceKey = Field(description="the primary source")
    course_source: Optional[SourceKey] = Field(None, description="where the course says it")


class PlatformApi(Strict):
    """How a platform-builtin model is reached (it has no downloadable weights)."""

    api: str
    sdk: str
    runtime: str = Field(description="id of the runtime entry that exposes it")
    methods: list[str] = Field(default_factory=list)
    min_npu_tops: Optional[float] = None
    requirements: list[str] = Field(default_factory=list)
    excluded_regions: list[str] = Field(default_factory=list)
    limited_access: bool = False


class LifecycleEvent(Strict):
    """A dated step in a model's life as a product (a platform built-in is offered or withdrawn by date)."""

    date: str = Field(pattern=r"^\d{4}-\d{2}(-\d{2})?$", description="YYYY-MM-DD, or YYYY-MM where the source gives a month")
    event: Literal["announced", "preview", "available", "removed"]
    channel: Optional[str] = Field(None, description="where it applies, e.g. 'retail devices', 'Windows Insider'")
    note: Optional[str] = None
    source: SourceKey


class Model(Sourced):
    name: str
    family: str = Field(description="id of a knowledge/families entry")
    series: Optional[str] = Field(None, description="e.g. qwen2.5-coder, phi-4")
    hf_repo: Optional[str] = None
    release_date: Optional[str] = None
    params_b: Optional[float] = Field(
        gt=0, description="total parameters in billions, encoders included; null only for a built-in whose vendor "
                          "publishes no size")
    active_params_b: Optional[float] = Field(None, gt=0, description="per token (MoE); default params_b")
    effective_params_b: Optional[float] = Field(
        None, gt=0, description="vendor's 'effective' size (Gemma 3n E2B/E4B)"
    )
    architecture: Optional[Architecture] = None
    languages: list[str] = Field(description="ISO 639-1 codes exactly as the card lists them")
    languages_claim: Optional[str] = Field(
        None, description="a broad claim without a list, e.g. '140+ languages'"
    )
    languages_claim_count: Optional[int] = None
    modality_languages: dict[str, list[str]] = Field(
        default_factory=dict,
        description="languages per input modality where the card gives them (e.g. speech input); `languages` is text")
    modalities_in: list[Modality]
    modalities_out: list[Modality]
    tasks: list[Task]  # type: ignore[valid-type]
    license: str = Field(description="SPDX id, or named terms such as 'gemma'")
    availability: Availability
    platforms: Optional[list[Platform]] = Field(None, description="set only where restricted")
    platform_api: Optional[PlatformApi] = None
    encoders: list[Encoder] = Field(default_factory=list)
    modality_support: list[ModalitySupport] = Field(
        default_factory=list,
        description="runtimes that accept the non-text inputs; a runtime not listed runs this model as text only",
    )
    benchmarks: list[Benchmark] = Field(default_factory=list)
    artifacts: list[Artifact] = Field(default_factory=list)
    published_performance: list[PublishedPerformance] = Field(default_factory=list)
    corrections: list[Correction] = Field(default_factory=list)
    quantizations_only: Optional[list[str]] = Field(
        None, description="the only quantizations it is offered in (its own formats, e.g. BitNet), where set")
    lifecycle: list[LifecycleEvent] = Field(
        default_factory=list, description="dated availability (built-ins: offered from 'available' until 'removed')")
    successor: Optional[str] = Field(None, description="id of the model that replaces this one")

    @field_validator("languages")
    @classmethod
    def _langs(cls, v: list[str]) -> list[str]:
        bad = [x for x in v if not _ISO639_1.match(x)]
        if bad:
            raise ValueError(f"not ISO 639-1 two-letter codes: {', '.join(bad)}")
        return v

    @property
    def active_b(self) -> float:
        return self.active_params_b or self.params_b


# --------------------------------------------------------------------------- quantizations


class QuantQuality(Strict):
    metric: Literal["perplexity_delta", "perplexity_delta_pct", "kld", "top1_agreement_pct", "accuracy_delta"]
    value: float
    model: str
    setting: str
    source: SourceKey


class HigherPrecisionRule(Strict):
    tensors: str = Field(description="which tensors, e.g. 'token_embd', 'output', 'attn_v (half the layers)'")
    type: str = Field(description="the type they are kept at, e.g. Q6_K")
    condition: Optional[str] = None


class Quantization(Sourced):
    name: str = Field(description="as tools spell it, e.g. Q4_K_M")
    format: Literal["gguf", "onnx", "awq", "gptq", "bitsandbytes", "mlx", "fp8", "safetensors", "litertlm", "sbs", "platform"]
    bits_per_weight: float = Field(gt=0, description="exact, from the block layout of the base type")
    weight_bytes_per_param: Optional[float] = None
    block_size: Optional[int] = None
    block_layout: str = Field(description="what one block stores, from the source code or spec")
    base_type: Optional[str] = Field(None, description="the ggml type most tensors get, for mixes")
    higher_precision: list[HigherPrecisionRule] = Field(default_factory=list)
    typical_model_bpw: Optional[float] = Field(
        None, description="whole-model average bits per weight of a typical mix, where a source gives it"
    )
    quality: list[QuantQuality] = Field(default_factory=list)
    activation_dtype: Optional[str] = None


# --------------------------------------------------------------------------- runtimes


class RuntimeParam(Strict):
    value: Union[float, int, str, bool]
    unit: Optional[str] = None
    meaning: str
    source: SourceKey


class ArchitectureRule(Strict):
    """What a runtime does with one architecture (by its Hugging Face class), where it differs from the default
    (every quantization the runtime lists): not loaded at all, or loaded only in some quantizations."""

    hf_class: str
    loads: bool = True
    quantizations: Optional[list[str]] = Field(None, description="only these quantization ids, where set")
    note: Optional[str] = None
    source: SourceKey


class MakeRecipe(Strict):
    """How to make an artifact of these quantizations for this runtime from the original checkpoint.
    Placeholders: {hf_repo} (the original repository), {name} (its last part), {quant} (the id),
    {QUANT} (the id in upper case, as llama-quantize takes it)."""

    quantizations: list[str]
    tool: str
    steps: list[str]
    note: Optional[str] = None
    source: SourceKey


class Runtime(Sourced):
    name: str
    kind: Literal["engine", "server", "library", "platform-api"]
    formats: list[Literal["gguf", "safetensors", "onnx", "mlx", "litertlm", "sbs", "platform"]]
    quantizations: list[str] = Field(description="ids of knowledge/quantizations entries it loads")
    backends: list[Backend]
    platforms: list[Platform]
    kv_cache_types: list[str] = Field(default_factory=list)
    install: str
    run: str
    version_noted: Optional[str] = None
    memory: dict[str, RuntimeParam] = Field(
        default_factory=dict, description="memory-overhead parameters of its allocator"
    )
    speed: dict[str, RuntimeParam] = Field(
        default_factory=dict, description="parameters of its speed beyond the kernels' (per-token costs of its own)"
    )
    requires_hardware: list[str] = Field(
        default_factory=list, description="free-text hardware conditions, e.g. 'Copilot+ PC NPU'"
    )
    architecture_rules: list[ArchitectureRule] = Field(default_factory=list)
    quantization_cpu_arch: dict[str, list[str]] = Field(
        default_factory=dict, description="quantization id -> the CPU architectures its kernels exist for, where limited")
    catalog: list[str] = Field(
        default_factory=list, description="model ids it offers from its own catalog, where it runs no other model")
    published_only: bool = Field(
        False, description="loads only files published in its own format (no convert step a user can run)")
    make: list[MakeRecipe] = Field(default_factory=list, description="how to make the artifacts it loads")
    multi_gpu: Optional[Literal["layer", "tensor"]] = Field(
        None, description="how it spreads one model over the GPUs of one machine: 'layer' (each GPU holds whole "
        "layers and a token passes through them in turn: memory adds up, speed is one GPU's), 'tensor' "
        "(tensor parallelism: every GPU works on every layer, memory and bandwidth add up, two all-reduces per "
        "layer); unset: one GPU")
    multi_node: bool = Field(False, description="runs one model across several machines (pipeline stages on each)")


# --------------------------------------------------------------------------- hardware


class Cpu(Strict):
    model: str
    arch: Literal["x86_64", "arm64"]
    cores: int = Field(gt=0)
    performance_cores: Optional[int] = None
    simd: list[str] = Field(default_factory=list)


class Gpu(Strict):
    model: str
    count: int = Field(1, gt=0)
    memory_gb_each: Optional[float] = None


class Compute(Strict):
    """Peak throughput of the part that runs the model (dense, no sparsity), in TFLOP/s or TOPS."""

    fp32_tflops: Optional[float] = None
    fp16_tflops: Optional[float] = None
    bf16_tflops: Optional[float] = None
    fp8_tflops: Optional[float] = None
    int8_tops: Optional[float] = None
    int4_tops: Optional[float] = None


def nvidia_prefill_peak(c: Compute, name: str) -> tuple[Optional[float], str]:
    """The matrix peak llama.cpp's CUDA prefill runs at. It multiplies quantized matrices as int8 tensor-core
    products (MMQ) and 16-bit ones through cuBLAS with FP16 accumulation: on every NVIDIA part since Turing at half
    the dense INT8 rate, which is twice the FP16 rate NVIDIA quotes for GeForce cards ("with FP32 accumulate", the
    catalog's fp16_tflops there) and the quoted FP16 rate on data-centre parts. (None, "") where neither is known."""
    if c.int8_tops:
        return c.int8_tops / 2, "half the int8 dense tensor peak (= fp16 with fp16 accumulate)"
    if c.fp16_tflops and "geforce" in name.lower():
        return c.fp16_tflops * 2, "fp16 dense with fp16 accumulate (twice GeForce's fp32-accumulate figure)"
    return None, ""


class Hardware(Sourced):
    name: str
    kind: Literal["sbc", "phone", "laptop", "desktop", "workstation", "server", "edge-module"]
    memory_gb: float = Field(gt=0, description="memory the model lives in (VRAM on discrete GPUs)")
    memory_kind: Literal["unified", "system", "vram"]
    bandwidth_gbps: float = Field(gt=0, description="peak bandwidth of that memory, GB/s")
    system_memory_gb: Optional[float] = Field(None, description="host RAM beside discrete VRAM")
    system_bandwidth_gbps: Optional[float] = None
    measured_bandwidth_gbps: Optional[float] = Field(
        None, description="a published measured read bandwidth of the CPU (STREAM-like), GB/s; CPU speed "
        "estimates use it, as they use this machine's own read test")
    cpu: Cpu
    gpu: Optional[Gpu] = None
    compute: Compute
    cpu_compute: Optional[Compute] = None
    npu_tops: Optional[float] = None
    npu: Optional[str] = None
    platform: Platform
    backends: list[Backend]
    copilot_plus: bool = False
    interconnect: Optional[str] = None


class Accelerator(Sourced):
    """A GPU or accelerator chip as its vendor's spec sheet gives it (knowledge/hardware/accelerators/<id>.yaml).

    `--gpu ID` (or a name as NVML / nvidia-smi prints it, listed in `device_names`) plans on it: its memory
    is the budget, its bandwidth and compute the roofline. Unified-memory chips (Apple M, Strix Halo, GB10,
    Jetson) share that memory with the CPU: `memory_gb` is the configuration the id names and
    `memory_options_gb` the others the chip ships with.
    """

    name: str
    vendor: Literal["nvidia", "amd", "apple", "intel", "qualcomm"]
    kind: Literal["discrete", "unified", "module"]
    device_names: list[str] = Field(default_factory=list, description="names as NVML / nvidia-smi / rocm-smi print them")
    memory_gb: float = Field(gt=0, description="memory of one device, GB as the vendor states it")
    memory_options_gb: list[float] = Field(default_factory=list)
    memory_type: str = Field(description="GDDR6X, HBM3, LPDDR5X, ...")
    bandwidth_gbps: float = Field(gt=0, description="peak memory bandwidth, GB/s")
    compute: Compute = Field(description="dense peaks (no sparsity): fp16/bf16 tensor, fp8, int8, fp32")
    backends: list[Backend]
    tdp_w: Optional[float] = None
    release_year: Optional[int] = None
    typical_for_size: bool = Field(False, description="the card `--vram` of this memory size alone plans on "
                                   "(a choice of this project, not a vendor fact)")

    def prefill_tflops(self, lower_bound: bool = False) -> tuple[Optional[float], str]:
        """The compute peak the prefill roofline uses, and its name: on NVIDIA parts the rate llama.cpp's kernels
        run at (nvidia_prefill_peak: half the dense INT8 peak); elsewhere the dense FP16 (else BF16) matrix peak; on
        Apple's M1-M4 GPUs, which have no matrix units and run FP16 at the FP32 rate, the FP32 peak. A chip whose
        matrix peak the catalog lacks has none, unless `lower_bound`: then its FP32 peak, below its matrix peak,
        so the prefill estimate errs slow (planning), never fast; a fit on published runs takes no such figure."""
        c = self.compute
        if self.vendor == "nvidia":
            t, name = nvidia_prefill_peak(c, self.name)
            if t:
                return t, name
        if c.fp16_tflops:
            return c.fp16_tflops, "fp16 dense"
        if c.bf16_tflops:
            return c.bf16_tflops, "bf16 dense"
        if c.fp32_tflops and (self.vendor == "apple" or lower_bound):
            return c.fp32_tflops, ("fp32 dense" if self.vendor == "apple"
                                   else "fp32 dense as a lower bound: no matrix peak in the catalog")
        return None, ""


# --------------------------------------------------------------------------- measured profiles


class Spread(Strict):
    n: int = Field(ge=1)
    min: float
    median: float
    max: float

    @model_validator(mode="after")
    def _order(self) -> "Spread":
        if not (self.min <= self.median <= self.max):
            raise ValueError("min <= median <= max must hold")
        return self


class MeasuredProfile(Sourced):
    """One measured run: a stack on a machine, with the spread of each figure.

    Either our own run (profiling/, source kind `measured`) or a published table
    (source kind `vendor_doc`, `leaderboard`, ...). `model` is a knowledge-base model id;
    for a model outside the catalog (e.g. LLaMA-2 7B in llama.cpp's tables) give
    `model_architecture` so bytes per token can be derived.
    """

    model: str
    model_architecture: Optional[Architecture] = None
    quantization: str
    runtime: str
    runtime_version: Optional[str] = None
    backend: Backend
    hardware: str = Field(description="a knowledge/hardware id, or a description of the machine")
    hardware_fingerprint: Optional[str] = None
    bandwidth_gbps: Optional[float] = Field(None, description="memory bandwidth of the machine as used")
    bandwidth_basis: Optional[str] = None
    compute_tflops: Optional[float] = Field(None, description="float32 FLOP/s of the threads the run used "
                                            "(CPU) or the device's dense FP16 peak (GPU), TFLOP/s")
    threads: Optional[int] = None
    cpu_simd: list[str] = Field(default_factory=list, description="the kernel-choosing SIMD flags of the CPU "
                                "(advisor.hardware.KERNEL_FLAGS), as the run's machine reported them")
    machine_identity: dict[str, Union[str, int, list[str]]] = Field(
        default_factory=dict, description="advisor.hardware identity of the machine (cpuid, SIMD flags, cores, GPUs)")
    context: int
    prompt_tokens: int
    gen_tokens: int
    depth_tokens: Optional[int] = Field(
        None, ge=0, description="llama-bench -d: tokens already in the KV cache when each timed test starts; "
        "when set, decode is timed from this depth and prefill processes the prompt after it (separate tests)")
    decode_tokens_per_s: Spread
    prefill_tokens_per_s: Optional[Spread] = None
    ttft_ms: Optional[Spread] = None
    load_s: Optional[float] = None
    peak_rss_bytes: Optional[int] = None
    rss_anon_bytes: Optional[int] = None
    rss_file_bytes: Optional[int] = None
    gpu_memory_bytes: Optional[int] = None
    buffers_mib: dict[str, float] = Field(default_factory=dict)
    settings: dict[str, Union[int, float, str, bool, None]] = Field(default_factory=dict)
    synthetic: bool = Field(False, description="random weights with the model's exact shapes")
    tool_version: Optional[str] = None
    measured_at: Optional[str] = None

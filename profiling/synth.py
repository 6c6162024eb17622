"""Synthetic GGUFs: random weights with a real model's exact tensor shapes.

Speed and memory of llama.cpp depend on tensor shapes and types, not on the
values, so a random-weight GGUF with a model's architecture, quantized by
llama.cpp's own quantizer, runs with the real model's footprint and speed. The
text it generates is meaningless.

The tensor list comes from `advisor.gguf.tensors`, the same list the weight
estimator uses. Supported: the architectures in `SUPPORTED_ARCHS`.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from advisor.errors import AdvisorError
from advisor.gguf import gguf_arch, tensors
from advisor.schemas import Architecture

SUPPORTED_ARCHS = ("qwen2", "qwen3", "qwen3moe", "phi3", "gemma3", "llama")
SYNTH_VERSION = 2  # bump when the file layout changes, to invalidate caches


class UnsupportedArchitecture(AdvisorError):
    exit_code = 2


def scaled(a: Architecture, layers: int | None = None, hidden: int | None = None,
           intermediate: int | None = None, vocab: int | None = None) -> Architecture:
    """A smaller architecture of the same kind, for fast tests."""
    upd = {}
    if layers:
        upd["layers"] = layers
    if hidden:
        upd["hidden_size"] = hidden
    if intermediate:
        upd["intermediate_size"] = intermediate
    if vocab:
        upd["vocab_size"] = vocab
    return a.model_copy(update=upd)


def _vocab(n: int) -> tuple[list[bytes], list[float], list[int]]:
    """An SPM-style vocabulary: <unk>, <s>, </s>, the 256 byte tokens, then filler pieces."""
    toks = [b"<unk>", b"<s>", b"</s>"] + [f"<0x{b:02X}>".encode() for b in range(256)]
    types = [2, 3, 3] + [6] * 256
    i = 0
    while len(toks) < n:
        toks.append(f"\u2581t{i}".encode())
        types.append(1)
        i += 1
    toks, types = toks[:n], types[:n]
    return toks, [0.0] * n, types


def _write(a: Architecture, path: Path, arch: str, seed: int = 0) -> None:
    import gguf
    import numpy as np

    w = gguf.GGUFWriter(str(path), arch)
    w.add_name("advisor synthetic model")  # no arch name: llama.cpp keys vocab quirks on it
    w.add_context_length(a.max_position_embeddings or a.context_length)
    w.add_embedding_length(a.hidden_size)
    w.add_block_count(a.layers)
    w.add_feed_forward_length(a.intermediate_size)
    w.add_head_count(a.attention_heads)
    w.add_head_count_kv(a.kv_heads)
    w.add_key_length(a.head_dim)
    w.add_value_length(a.head_dim)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_freq_base(float(a.rope_theta or 10000.0))
    w.add_file_type(1)  # MOSTLY_F16
    if a.experts:
        w.add_expert_count(a.experts)
        w.add_expert_used_count(a.experts_per_token)
        w.add_expert_feed_forward_length(a.moe_intermediate_size)
    if arch == "gemma3" and a.sliding_window:
        w.add_sliding_window(a.sliding_window)
    toks, scores, types = _vocab(a.vocab_size)
    w.add_tokenizer_model("llama")
    w.add_token_list(toks)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)

    rng = np.random.default_rng(seed)
    pool = (rng.standard_normal(1 << 22, dtype=np.float32) * 0.02).astype(np.float16)
    offset = 0
    for t in tensors(a, arch):
        shape = tuple(reversed(t.shape))  # numpy order
        if len(t.shape) == 1:
            data = np.ones(shape, dtype=np.float32)
        else:
            n = t.n_elements
            reps = -(-n // pool.size) + 1
            start = offset % pool.size
            data = np.resize(np.roll(pool, -start), n) if reps <= 2 else np.tile(pool, reps)[start:start + n]
            data = data.reshape(shape)
            offset += 7919
        w.add_tensor(t.name, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def _quantize(src: Path, dst: Path, quant: str, threads: int | None = None) -> None:
    import llama_cpp

    from advisor.gguf import FILE_TYPES

    if quant not in FILE_TYPES:
        raise UnsupportedArchitecture(f"--quant: llama.cpp's quantizer has no file type '{quant}' "
                                      f"(accepted: {', '.join(FILE_TYPES)})")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, f"LLAMA_FTYPE_{FILE_TYPES[quant][0]}")
    params.nthread = threads or os.cpu_count() or 1
    rc = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), params)
    if rc != 0:
        raise AdvisorError(f"llama_model_quantize failed with code {rc} for {src.name} -> {quant}")


def cache_dir() -> Path:
    env = os.environ.get("ADVISOR_SYNTH_CACHE")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("advisor")) / "synthetic"


def build(a: Architecture, quant: str, directory: Path | None = None, threads: int | None = None) -> Path:
    """Path of a cached synthetic GGUF of `a` quantized to `quant`, building it if needed."""
    arch = gguf_arch(a)
    if arch not in SUPPORTED_ARCHS:
        raise UnsupportedArchitecture(
            f"synthetic GGUFs are not supported yet for architecture '{arch}' "
            f"(supported: {', '.join(SUPPORTED_ARCHS)})"
        )
    key = hashlib.sha256(
        json.dumps([SYNTH_VERSION, arch, a.model_dump(mode="json")], sort_keys=True).encode()
    ).hexdigest()[:16]
    directory = Path(directory) if directory else cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    out = directory / f"synth-{arch}-{key}-{quant}.gguf"
    if out.exists():
        os.utime(out)  # recently used: pruned last
        return out
    src = directory / f"synth-{arch}-{key}-f16.gguf"
    if not src.exists():
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".partial")
        os.close(fd)
        try:
            _write(a, Path(tmp), arch)
            os.replace(tmp, src)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    if quant == "f16":
        return src
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".partial")
    os.close(fd)
    try:
        _quantize(src, Path(tmp), quant, threads)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    src.unlink(missing_ok=True)  # the 16-bit intermediate is rebuilt when another type needs it
    prune(directory, keep=out)
    return out


# Upper bound of the synthetic cache (ADVISOR_SYNTH_CACHE_MAX_GB, default 12): the oldest files go first.
DEFAULT_CACHE_MAX_GB = 12.0


def prune(directory: Path, keep: Path | None = None, max_bytes: int | None = None) -> int:
    """Delete the least recently used cached models until the folder is under its bound; returns bytes freed."""
    if max_bytes is None:
        try:
            max_bytes = int(float(os.environ.get("ADVISOR_SYNTH_CACHE_MAX_GB", DEFAULT_CACHE_MAX_GB)) * 1e9)
        except ValueError:
            max_bytes = int(DEFAULT_CACHE_MAX_GB * 1e9)
    entries = []
    for p in Path(directory).iterdir():
        if p.name.startswith(("synth-", "hf-")):
            size = sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) if p.is_dir() else p.stat().st_size
            entries.append((p.stat().st_mtime, p, size))
    total = sum(e[2] for e in entries)
    freed = 0
    for _, p, size in sorted(entries, key=lambda e: (e[0], str(e[1]))):
        if total <= max_bytes:
            break
        if keep is not None and p == keep:
            continue
        remove(p)
        total -= size
        freed += size
    return freed


def remove(p: Path) -> None:
    import shutil

    if p.is_dir():
        shutil.rmtree(p, ignore_errors=True)
    else:
        p.unlink(missing_ok=True)


def clean(directory: Path | None = None) -> tuple[int, int]:
    """Remove every cached synthetic model; (files removed, bytes freed)."""
    directory = Path(directory) if directory else cache_dir()
    if not directory.is_dir():
        return 0, 0
    n = freed = 0
    for p in directory.iterdir():
        if p.name.startswith(("synth-", "hf-")) or p.suffix == ".partial":
            freed += sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) if p.is_dir() else p.stat().st_size
            remove(p)
            n += 1
    return n, freed

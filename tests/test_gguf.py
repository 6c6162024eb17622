"""The GGUF layout reproduces llama.cpp's quantizer exactly (real llama_model_quantize, scaled shapes)."""

import pytest

from advisor.gguf import assign_types, estimate_weights, tensors
from advisor.kb import load_catalog

gguf = pytest.importorskip("gguf")
pytest.importorskip("llama_cpp")

from profiling.synth import build, scaled  # noqa: E402

QUANTS = ["q4_k_m", "q5_k_m", "q3_k_m", "q2_k", "q6_k", "q8_0", "q4_0", "iq4_xs"]
# (model id, scaled-down overrides): each arch's real tensor set at a size that quantizes in seconds
CASES = {
    "qwen3-0.6b": dict(layers=8, hidden=512, intermediate=1024, vocab=4096),
    "qwen2.5-1.5b-instruct": dict(layers=8, hidden=512, intermediate=1024, vocab=4096),
    "phi-4-mini-instruct": dict(layers=8, hidden=512, intermediate=1024, vocab=4096),
    "phi-3-mini-4k-instruct": dict(layers=8, hidden=512, intermediate=1024, vocab=4096),
    "gemma-3-1b-it": dict(layers=12, hidden=640, intermediate=1024, vocab=4096),  # 640: rows not /256
    "qwen3-30b-a3b": dict(layers=8, hidden=512, intermediate=1024, vocab=4096),
}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def _arch(catalog, mid, experts=None):
    a = scaled(catalog.model(mid).architecture, **CASES[mid])
    if a.experts:
        a = a.model_copy(update={"experts": experts, "experts_per_token": min(a.experts_per_token, experts),
                                 "moe_intermediate_size": 256})
    return a


@pytest.mark.parametrize("mid", sorted(CASES))
@pytest.mark.parametrize("quant", QUANTS)
def test_types_and_bytes_match_llama_quantize(catalog, mid, quant, tmp_path_factory):
    cache = tmp_path_factory.getbasetemp() / "synth"
    for experts in ([8, 16] if catalog.model(mid).architecture.experts else [None]):
        a = _arch(catalog, mid, experts)
        path = build(a, quant, directory=cache)
        reader = gguf.GGUFReader(str(path))
        real = {t.name: t.tensor_type.name for t in reader.tensors}
        ts = tensors(a)
        predicted = assign_types(ts, quant, a.layers, a.attention_heads // a.kv_heads, a.experts or 0,
                                 source_type="F16")
        assert predicted == real
        assert estimate_weights(a, quant, source_type="F16").total_bytes == sum(int(t.n_bytes) for t in reader.tensors)


def test_mixes_keep_sensitive_tensors_at_higher_precision(catalog):
    a = catalog.model("qwen3-8b").architecture
    types = assign_types(tensors(a), "q4_k_m", a.layers, a.attention_heads // a.kv_heads)
    assert types["output.weight"] == "Q6_K"
    assert types["blk.0.attn_v.weight"] == "Q6_K" and types["blk.0.ffn_down.weight"] == "Q6_K"
    assert types["blk.5.attn_q.weight"] == "Q4_K"
    assert types["blk.0.attn_norm.weight"] == "F32"


def test_full_size_estimates_are_plausible(catalog):
    # whole-model bits per weight of Q4_K_M lands between the base type (4.5) and Q6_K (6.56)
    for mid in ("qwen2.5-7b-instruct", "qwen3-8b", "phi-4-mini-instruct", "gemma-3-4b-it"):
        e = estimate_weights(catalog.model(mid).architecture, "q4_k_m")
        assert 4.5 < e.bits_per_weight < 5.3, (mid, e.bits_per_weight)
        assert e.exact_layout

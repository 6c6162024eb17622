"""The knowledge base: the real tree validates; injected mistakes give exactly the expected lines."""

import pytest

from advisor.arch import count_params, implied_params
from advisor.kb import default_root, load_catalog, validate_tree
from advisor.errors import KnowledgeBaseError, NotFoundError

from conftest import FIXTURES

REQUIRED_MODELS = {
    "phi": [
        "phi-3-mini-4k-instruct", "phi-3-mini-128k-instruct", "phi-3.5-mini-instruct",
        "phi-3.5-vision-instruct", "phi-4", "phi-4-mini-instruct", "phi-4-mini-reasoning",
        "phi-4-reasoning", "phi-4-reasoning-plus", "phi-4-multimodal-instruct", "phi-silica",
    ],
    "qwen": [
        *(f"qwen2.5-{s}-instruct" for s in ("0.5b", "1.5b", "3b", "7b", "14b", "32b")),
        "qwen2.5-coder-1.5b-instruct", "qwen2.5-coder-7b-instruct",
        "qwen2.5-math-1.5b-instruct", "qwen2.5-math-7b-instruct",
        "qwen2.5-vl-3b-instruct", "qwen2.5-vl-7b-instruct",
        *(f"qwen3-{s}" for s in ("0.6b", "1.7b", "4b", "8b", "14b", "32b")),
        "qwen3-30b-a3b", "qwen3-235b-a22b",
    ],
    "gemma": [
        *(f"gemma-3-{s}-it" for s in ("270m", "1b", "4b", "12b", "27b")),
        "gemma-3n-e2b-it", "gemma-3n-e4b-it",
    ],
    "bitnet": ["bitnet-b1.58-2b-4t"],
    "mu": ["mu"],
}
REQUIRED_QUANTS = [
    "f16", "bf16", "q8_0", "q6_k", "q5_k_m", "q4_k_m", "q4_0", "iq4_xs", "q3_k_m", "q2_k",
    "tq1_0", "tq2_0", "i2_s", "tl1", "tl2", "onnx_int4", "awq_int4", "gptq_int4", "bnb_nf4",
    "mlx_4bit", "mlx_8bit", "fp8",
]
REQUIRED_RUNTIMES = [
    "llama.cpp", "ollama", "onnxruntime-genai", "foundry-local", "transformers", "vllm", "mlx",
    "bitnet.cpp", "windows-ai-apis",
]
MIN_HARDWARE = 16


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_real_knowledge_base_has_no_problems():
    _, problems, _ = validate_tree(default_root())
    assert [str(p) for p in problems] == []


def test_real_knowledge_base_holds_every_required_model(catalog):
    for family, ids in REQUIRED_MODELS.items():
        for mid in ids:
            assert mid in catalog.models, f"missing model {mid}"
            assert catalog.models[mid].family == family


def test_real_knowledge_base_holds_quants_runtimes_hardware(catalog):
    assert set(REQUIRED_QUANTS) <= set(catalog.quantizations)
    assert set(REQUIRED_RUNTIMES) <= set(catalog.runtimes)
    assert len(catalog.hardware) >= MIN_HARDWARE


def test_open_weight_models_match_their_stated_size(catalog):
    for mid, m in catalog.models.items():
        p = implied_params(m)
        if m.availability == "open-weights":
            assert p is not None, mid
            assert abs(p.total / (m.params_b * 1e9) - 1) <= 0.05, mid


def test_builtins_are_platform_apis_without_weights(catalog):
    silica = catalog.models["phi-silica"]
    assert silica.availability == "platform-builtin"
    assert silica.hf_repo is None
    assert silica.platform_api is not None and silica.platform_api.runtime == "windows-ai-apis"
    mu = catalog.models["mu"]
    assert mu.availability == "system-component"
    assert mu.hf_repo is None and mu.platform_api is None and mu.artifacts == []


def test_course_corrections_are_recorded(catalog):
    phi4 = catalog.models["phi-4"]
    assert phi4.architecture.context_length == 16384
    assert any(c.field.endswith("context_length") for c in phi4.corrections)


def test_gemma3_sliding_window_pattern(catalog):
    for mid in ("gemma-3-1b-it", "gemma-3-4b-it", "gemma-3-27b-it"):
        a = catalog.models[mid].architecture
        assert a.sliding_window_pattern == "5:1"
        assert a.sliding_window in (512, 1024)


def test_fixture_kb_validates_clean():
    entities, problems, _ = validate_tree(FIXTURES / "kb_good")
    assert problems == []
    assert set(entities["models"]) == {"toy-0.6b", "toy-moe-30b-a3b"}


def test_injected_mistakes_give_exactly_the_expected_lines():
    _, problems, _ = validate_tree(FIXTURES / "kb_bad")
    expected = (FIXTURES / "kb_bad.expected").read_text().splitlines()
    assert [str(p) for p in problems] == expected


def test_load_catalog_refuses_a_broken_tree():
    with pytest.raises(KnowledgeBaseError) as e:
        load_catalog(FIXTURES / "kb_bad")
    assert len(e.value.problems) == len((FIXTURES / "kb_bad.expected").read_text().splitlines())


def test_unknown_id_names_the_field_and_a_hint():
    cat = load_catalog(FIXTURES / "kb_good")
    with pytest.raises(NotFoundError) as e:
        cat.model("toy")
    assert "model" in str(e.value) and "toy-0.6b" in str(e.value)


def test_param_count_of_a_known_moe():
    # Qwen3-30B-A3B's config: the card states 30.5B total, 3.3B activated
    cat = load_catalog(FIXTURES / "kb_good")
    p = count_params(cat.models["toy-moe-30b-a3b"].architecture)
    assert round(p.total / 1e9, 1) == 30.5
    assert round(p.active / 1e9, 1) == 3.4 or round(p.active / 1e9, 2) == 3.35


def test_catalog_cache_is_equal_and_follows_file_changes(tmp_path):
    import shutil

    root = tmp_path / "kb"
    shutil.copytree(FIXTURES / "kb_good", root)
    first = load_catalog(root)   # validates and writes the cache
    second = load_catalog(root)  # from the cache
    assert dict(first.models) == dict(second.models) and dict(first.hardware) == dict(second.hardware)
    assert second.models["toy-0.6b"].model_fields_set == first.models["toy-0.6b"].model_fields_set
    path = root / "models" / "toy" / "toy-0.6b.yaml"
    path.write_text(path.read_text().replace("name: Toy-0.6B", "name: Toy-0.6B renamed"))
    assert load_catalog(root).models["toy-0.6b"].name == "Toy-0.6B renamed"
    path.write_text(path.read_text().replace("  kv_heads: 8", "  kv_heads: 6"))
    with pytest.raises(KnowledgeBaseError):
        load_catalog(root)


def test_a_gpu_run_takes_the_named_devices_figures_only_when_the_name_is_whole():
    """A published GPU run without a bandwidth or compute figure takes them from the catalog entry of the device
    it names, and says so; a name that is only part of a word (A10 in 'A100 80GB') or fits two cards is no match."""
    from advisor.kb import accelerator_in

    cat = load_catalog(default_root())
    acc = dict(cat.accelerators)
    assert accelerator_in(acc, "NVIDIA GeForce RTX 3090")[0] == "rtx-3090"
    assert accelerator_in(acc, "Apple M2 Ultra (76-core GPU)")[0] == "apple-m2-ultra"
    assert accelerator_in(acc, "NVIDIA A100 80GB") is None  # PCIe or SXM4: not stated, and not the A10
    assert accelerator_in(acc, "NVIDIA A10")[0] == "a10"
    # a variant word after a card's name makes it another card, which the catalog may not have
    assert accelerator_in(acc, "NVIDIA GeForce RTX 4070")[0] == "rtx-4070"
    assert accelerator_in(acc, "NVIDIA GeForce RTX 4070 Ti (table: '4070 Ti 12GB')")[0] == "rtx-4070-ti"
    ti = cat.profiles["meta-llama-3-8b-q4_k_m-rtx-4070-ti"]  # not the RTX 4070's compute (29 vs 40 FP32 TFLOPS)
    assert ti.compute_tflops == acc["rtx-4070-ti"].prefill_tflops()[0]
    assert accelerator_in(acc, "NVIDIA GeForce RTX 4090 Laptop GPU") is None
    assert accelerator_in(acc, "NVIDIA GeForce RTX 4080 SUPER") is None
    assert accelerator_in(acc, "NVIDIA GeForce RTX 4090 24 GB, one card")[0] == "rtx-4090"
    p = cat.profiles["llama2-7b-q4_0-rtx-3090"]  # the scoreboard entry states neither figure
    assert p.bandwidth_gbps == acc["rtx-3090"].bandwidth_gbps
    assert p.compute_tflops == acc["rtx-3090"].prefill_tflops()[0] == acc["rtx-3090"].compute.int8_tops / 2
    assert p.provenance["bandwidth_gbps"] == "accelerator-catalog"
    assert p.sources["accelerator-catalog"].ref == "knowledge/hardware/accelerators/rtx-3090.yaml"
    own = cat.profiles["qwen3-8b-q5_k_m-l40s"]  # a run's own figures are kept
    assert own.compute_tflops == 366.5 and "accelerator-catalog" not in own.sources
    a100 = cat.profiles["llama2-7b-q4_0-a100-80gb"]
    assert a100.bandwidth_gbps is None


def test_every_catalog_gpu_has_a_prefill_figure_for_planning_and_fits_take_only_matrix_peaks():
    """`--gpu ID --max-ttft-ms N` needs a compute figure: every chip with any compute figure in the catalog plans
    prefill on its matrix peak, or where the catalog has none the FP32 peak as a lower bound (prefill errs slow);
    a fit on published runs never takes that bound. (Chips whose vendor states no compute have none.)"""
    cat = load_catalog(default_root())
    for aid, a in cat.accelerators.items():
        t, name = a.prefill_tflops(lower_bound=True)
        c = a.compute
        assert bool(t) == bool(c.fp16_tflops or c.bf16_tflops or c.fp32_tflops), aid
        if not t:
            continue
        strict, _ = a.prefill_tflops()
        if strict is None:
            assert "lower bound" in name or a.vendor == "apple", aid
    # NVIDIA parts plan llama.cpp's prefill on half their dense INT8 peak (the FP16-accumulate rate): the Orin's
    # catalog entry has an INT8 figure and no FP16 one; a GeForce card's FP16 figure is FP32-accumulate, half that
    orin = cat.accelerators["jetson-agx-orin-64gb"]
    assert orin.prefill_tflops()[0] == orin.compute.int8_tops / 2
    g4090 = cat.accelerators["rtx-4090"]
    assert g4090.prefill_tflops()[0] == pytest.approx(2 * g4090.compute.fp16_tflops, rel=0.001)
    assert cat.accelerators["a100-80gb"].prefill_tflops()[0] == cat.accelerators["a100-80gb"].compute.fp16_tflops
    no_int8 = cat.accelerators["rtx-3060-12gb"]
    assert no_int8.compute.int8_tops is None and no_int8.prefill_tflops()[0] == 2 * no_int8.compute.fp16_tflops

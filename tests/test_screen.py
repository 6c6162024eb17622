"""The vectorised screen (advisor.screen) picks what the exact evaluation of every stack picks."""

import pytest

from advisor.estimate import from_profile
from advisor.kb import load_catalog
from advisor.requirements import build
from advisor.solve import best_per_model, evaluate
from benchmarks.bench_solver import generate


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def _top(cands, n):
    return [(c.model_id, c.quant, c.runtime) for c in best_per_model(cands, n)]


def _both(monkeypatch, cat, hw, req):
    monkeypatch.setenv("ADVISOR_SCREEN_THRESHOLD", "1000000000")
    exact = evaluate(cat, hw, req)
    monkeypatch.setenv("ADVISOR_SCREEN_THRESHOLD", "0")
    stats = {}
    screened = evaluate(cat, hw, req, stats=stats)
    return exact, screened, stats


@pytest.mark.parametrize("hardware, raw", [
    ("raspberry-pi-5-8gb", {"languages": ["sv"]}),
    ("macbook-air-m2-16gb", {"modalities": ["image"]}),
    ("desktop-rtx-4090-24gb", {"tasks": ["code"], "context": 32768}),
    ("raspberry-pi-5-4gb", {"min_tps": 5, "prefer": "speed"}),
    ("h100-80gb", {"tasks": ["reasoning"]}),
])
def test_screen_then_refine_matches_exact_on_the_knowledge_base(monkeypatch, cat, hardware, raw):
    hw = from_profile(hardware, cat.hw(hardware))
    req = build({"hardware": hardware, **raw, "top": 3})
    exact, screened, stats = _both(monkeypatch, cat, hw, req)
    assert stats["screened"] > stats["refined"] > 0
    assert _top(screened, 3) == _top(exact, 3)


def test_screen_matches_exact_on_a_generated_catalog(monkeypatch, cat):
    big = generate(cat, 400, seed=3)
    hw = from_profile("raspberry-pi-5-8gb", cat.hw("raspberry-pi-5-8gb"))
    for raw in ({"languages": ["de"]}, {"min_tps": 4, "prefer": "speed"}, {"prefer": "memory", "context": 32768}):
        req = build({"hardware": "raspberry-pi-5-8gb", **raw, "top": 5})
        exact, screened, stats = _both(monkeypatch, big, hw, req)
        assert stats["refined"] < stats["screened"] / 5
        assert _top(screened, 5) == _top(exact, 5), raw


@pytest.mark.parametrize("hardware, raw", [
    ("raspberry-pi-5-8gb", {}),
    ("copilot-plus-x-elite-16gb", {"platform": "windows"}),
    ("h100-80gb", {"runtimes": ["vllm", "llama.cpp"]}),
])
def test_cached_stack_paths_are_the_graph_paths(cat, hardware, raw):
    """recommend reads the graph's paths from the cache: they equal the paths of a freshly built graph,
    and a damaged cache file is rebuilt rather than trusted."""
    from advisor.kb import cache_dir
    from advisor.solve import enumerate_stacks, graph_paths, stack_graph, stack_paths

    req = build({"hardware": hardware, **raw})
    hw = from_profile(hardware, cat.hw(hardware))
    fresh = graph_paths(stack_graph(cat, hw, req))
    by_rules = sorted((mid, *s) for mid, ss in enumerate_stacks(cat, hw, req).items() for s in ss)
    assert sorted(fresh) == by_rules and fresh
    assert sorted(stack_paths(cat, hw, req)) == by_rules  # builds and stores
    path = cache_dir() / f"stacks-{cat.key}.pickle"
    assert path.exists()
    assert sorted(stack_paths(cat, hw, req)) == by_rules  # read back
    path.write_bytes(b"not a pickle")
    assert sorted(stack_paths(cat, hw, req)) == by_rules

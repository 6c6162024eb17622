"""The reclaimable-pages rule under a real memory limit.

llama.cpp on x86 copies its Q4_K tensors into CPU_REPACK buffers and leaves the mapped originals resident:
the resident peak counts both, while `memory_required_gb` counts the originals as clean page cache the
kernel may drop. This test runs such a stack in a memory cgroup of its own, limited below the predicted
(and measured) peak but above the required figure, and checks that it runs to the end with no OOM kill.
Only the runner's group is limited. Where the machine offers no writable memory cgroup the test is skipped
and the rule is not in force (advisor.memory.RECLAIM_SHOWN_ON).
"""

import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("gguf")

from advisor.kb import load_catalog  # noqa: E402
from advisor.memory import RECLAIM_SHOWN_ON, Target, estimate_memory  # noqa: E402
from profiling import cgroup  # noqa: E402
from profiling.measure import RunSettings, run_gguf  # noqa: E402
from profiling.synth import build, scaled  # noqa: E402

ok, why = cgroup.available()


@pytest.mark.skipif(not ok, reason=f"no per-process memory limit here: {why}")
def test_stack_above_its_limit_by_reclaimable_pages_runs_to_the_end(tmp_path):
    cat = load_catalog()
    m = cat.model("qwen3-1.7b")
    a = scaled(m.architecture, layers=14)
    path = build(a, "q4_k_m", directory=tmp_path)
    target = Target(cpu_arch="x86_64", simd=("avx2",), backend="cpu", os="linux")
    ctx = 1024
    est = estimate_memory(m.model_copy(update={"architecture": a}), "q4_k_m", "llama.cpp", ctx, target=target,
                          frontend="llama-cpp-python")
    assert "linux" in RECLAIM_SHOWN_ON
    assert est.reclaimable > 150 * 2**20, est.assumptions  # the rule matters for this stack
    s = RunSettings(context=ctx, prompt_tokens=64, gen_tokens=16, repeats=1, fill=True)

    cgroup.drop_page_cache(path)
    free = run_gguf(str(path), s)
    limit = int(est.required + 0.5 * est.reclaimable)
    assert free["rss"]["peak"] > limit, (free["rss"], limit)  # without a limit the process holds more

    cgroup.drop_page_cache(path)  # the mapped pages must be faulted in, and charged, inside the group
    with cgroup.memory_limit(limit) as lim:
        limited = run_gguf(str(path), s, preexec=lim.join)
        stats = lim.stats()
    assert stats.get("oom_kills", 0) == 0, stats
    assert limited["runs"] and limited["runs"][0]["decode_tps"] > 0
    # the kernel held the group to its limit (RSS may count a few pages charged to other groups, such as
    # shared libraries), and the limit bound: the process held less than without it
    assert stats.get("peak_bytes", 0) <= limit, stats
    assert limited["rss"]["peak"] < free["rss"]["peak"], (limited["rss"], free["rss"])
    assert stats.get("limit_hits", 0) > 0 or stats.get("peak_bytes", 0) >= 0.97 * limit, stats

"""The reclaimable-pages rule under a real memory limit, with its figures.

    python -m benchmarks.bench_memory_limit [--model qwen3-1.7b] [--layers 14] [--quant q4_k_m]

Builds a random-weight GGUF with the model's real shapes (here with fewer layers, so it builds in a
minute), runs it once without a limit and once in a memory cgroup of its own limited to the predicted
required figure plus half the reclaimable pages (below the predicted and the measured peak), and prints
what the kernel recorded. The same check runs in tests/test_memory_limit.py. Linux with a writable
memory cgroup (root or a delegated group) only; elsewhere it says why and stops.
"""

from __future__ import annotations

import argparse
import tempfile


def main(argv=None) -> None:
    from advisor.kb import load_catalog
    from advisor.memory import Target, estimate_memory
    from profiling import cgroup
    from profiling.measure import RunSettings, run_gguf
    from profiling.synth import build, scaled

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen3-1.7b")
    ap.add_argument("--layers", type=int, default=14)
    ap.add_argument("--quant", default="q4_k_m")
    ap.add_argument("--context", type=int, default=1024)
    a = ap.parse_args(argv)
    ok, why = cgroup.available()
    if not ok:
        print(f"no per-process memory limit on this machine: {why}; the conservative rule is in force there")
        return
    cat = load_catalog()
    m = cat.model(a.model)
    arch = scaled(m.architecture, layers=a.layers) if a.layers else m.architecture
    est = estimate_memory(m.model_copy(update={"architecture": arch}), a.quant, "llama.cpp", a.context,
                          target=Target(cpu_arch="x86_64", simd=("avx2",), backend="cpu", os="linux"),
                          frontend="llama-cpp-python")
    s = RunSettings(context=a.context, prompt_tokens=64, gen_tokens=16, repeats=1, fill=True)
    with tempfile.TemporaryDirectory() as d:
        path = build(arch, a.quant, directory=d)
        cgroup.drop_page_cache(path)
        free = run_gguf(str(path), s)
        limit = int(est.required + 0.5 * est.reclaimable)
        cgroup.drop_page_cache(path)
        with cgroup.memory_limit(limit) as lim:
            limited = run_gguf(str(path), s, preexec=lim.join)
            stats = lim.stats()
    gb = 1e9
    print(f"{a.model} ({arch.layers} layers) {a.quant.upper()} at context {a.context}, llama.cpp on the CPU ({why})")
    print(f"  predicted: must fit {est.required / gb:.3f} GB, resident peak {est.total / gb:.3f} GB "
          f"(reclaimable {est.reclaimable / gb:.3f} GB)")
    print(f"  no limit:  measured peak RSS {free['rss']['peak'] / gb:.3f} GB, decode {free['runs'][0]['decode_tps']:.1f} tokens/s")
    print(f"  limit {limit / gb:.3f} GB (own cgroup): measured peak RSS {limited['rss']['peak'] / gb:.3f} GB, "
          f"group peak {stats.get('peak_bytes', 0) / gb:.3f} GB, limit hits {stats.get('limit_hits')}, "
          f"OOM kills {stats.get('oom_kills')}, decode {limited['runs'][0]['decode_tps']:.1f} tokens/s: "
          + ("completed" if limited["runs"] else "failed"))


if __name__ == "__main__":
    main()

"""What llama.cpp's token sampler costs per generated token, by vocabulary size, on this CPU.

    python -m benchmarks.bench_sampler [--repeats N] [--json FILE]

llama-bench and this project's runner time decode without sampling; a server samples every token on the
CPU over the whole vocabulary. This runs llama.cpp's own sampler chain (the llama-cpp-python build that
`advisor profile` uses) on a candidate array of V random logits, as `common_sampler_sample` does after
`set_logits` (here a copy of the V-entry array), accepting each sampled token so the repetition history
fills as in generation. Two chains, each in llama.cpp's common order:

- `ollama-penalty`: Ollama's defaults up to v0.32.10 (api.DefaultOptions: repeat_penalty 1.1 over the last 64
  tokens, top_k 40, top_p 0.9, temperature 0.8): the repetition penalty visits every candidate (a hash
  lookup per vocabulary entry, llama_sampler_penalties_apply);
- `server-default`: llama-server's defaults (no penalty, top_k 40, top_p 0.95, min_p 0.05, temperature 0.8),
  which is also Ollama's chain since v0.32.10 for a model that sets no penalty.

Prints, per chain and vocabulary size, the median time per token with its min and max over the repeats,
and the least-squares slope in nanoseconds per vocabulary entry (the figure knowledge/runtimes/ollama.yaml
records, with the CPU it was measured on).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import platform
import statistics
import time

VOCABS = (32000, 65536, 128256, 151936, 200064, 262144)


def _chain(L, kind: str):
    c = L.llama_sampler_chain_init(L.llama_sampler_chain_default_params())
    add = lambda s: L.llama_sampler_chain_add(c, s)  # noqa: E731
    if kind == "ollama-penalty":
        # the binding declares the older five-argument form (n_vocab first); llama.cpp reads the last four
        add(L.llama_sampler_init_penalties(64, 64, 1.1, 0.0, 0.0))
        add(L.llama_sampler_init_top_k(40))
        add(L.llama_sampler_init_top_p(0.9, 1))
    else:
        add(L.llama_sampler_init_top_k(40))
        add(L.llama_sampler_init_top_p(0.95, 1))
        add(L.llama_sampler_init_min_p(0.05, 1))
    add(L.llama_sampler_init_temp(0.8))
    add(L.llama_sampler_init_dist(1234))
    return c


def measure(vocab: int, kind: str, repeats: int, warmup: int = 20) -> list[float]:
    """Seconds per sampled token (array refill + chain), one figure per token after `warmup` tokens."""
    import numpy as np
    import llama_cpp as L

    rng = np.random.default_rng(vocab)
    src = (L.llama_token_data * vocab)()
    view = np.ctypeslib.as_array(ctypes.cast(src, ctypes.POINTER(ctypes.c_uint8)), (vocab * 12,))
    rec = np.zeros(vocab, dtype=[("id", "<i4"), ("logit", "<f4"), ("p", "<f4")])
    rec["id"] = np.arange(vocab)
    rec["logit"] = rng.normal(0.0, 3.0, vocab)
    view[:] = rec.view(np.uint8)
    buf = (L.llama_token_data * vocab)()
    chain = _chain(L, kind)
    out = []
    try:
        for i in range(warmup + repeats):
            t = time.perf_counter()
            ctypes.memmove(buf, src, ctypes.sizeof(src))
            arr = L.llama_token_data_array(buf, vocab, -1, False)
            L.llama_sampler_apply(chain, ctypes.byref(arr))
            dt = time.perf_counter() - t
            L.llama_sampler_accept(chain, arr.data[arr.selected].id)
            if i >= warmup:
                out.append(dt)
    finally:
        L.llama_sampler_free(chain)
    return out


def slope_ns(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least-squares line through (vocabulary, median seconds): (ns per entry, fixed microseconds)."""
    n = len(points)
    mx = sum(v for v, _ in points) / n
    my = sum(t for _, t in points) / n
    b = sum((v - mx) * (t - my) for v, t in points) / sum((v - mx) ** 2 for v, _ in points)
    return b * 1e9, (my - b * mx) * 1e6


def main(argv=None) -> None:
    import importlib.metadata as md

    from advisor.hardware import detect

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=300)
    ap.add_argument("--json", dest="json_out", default=None)
    a = ap.parse_args(argv)
    d = detect(measure=False)
    cpu = d.cpu_model or platform.processor()
    print(f"llama.cpp sampler of llama-cpp-python {md.version('llama-cpp-python')} on {cpu} ({platform.machine()}), "
          f"one thread, {a.repeats} sampled tokens per size")
    result = {"cpu": d.cpu_model, "llama_cpp_python": md.version("llama-cpp-python"), "chains": {}}
    for kind in ("ollama-penalty", "server-default"):
        pts = []
        rows = {}
        for v in VOCABS:
            ts = measure(v, kind, a.repeats)
            med = statistics.median(ts)
            pts.append((v, med))
            rows[v] = {"median_ms": med * 1e3, "min_ms": min(ts) * 1e3, "max_ms": max(ts) * 1e3}
            print(f"  {kind:15s} vocabulary {v:7d}: median {med * 1e3:.3f} ms per token "
                  f"(min {min(ts) * 1e3:.3f}, max {max(ts) * 1e3:.3f})")
        ns, us = slope_ns(pts)
        per = [t / v * 1e9 for v, t in pts]
        print(f"  {kind:15s} slope {ns:.2f} ns per vocabulary entry (+{us:.0f} us fixed); "
              f"median / vocabulary over the sizes {min(per):.2f}-{max(per):.2f} ns")
        result["chains"][kind] = {"ns_per_entry": ns, "fixed_us": us, "sizes": rows}
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()

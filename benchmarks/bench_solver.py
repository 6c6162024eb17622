"""Solver time on a generated catalog: 10,000 models x 8 quantizations x 4 runtimes, one hardware profile.

    python -m benchmarks.bench_solver [--models 10000] [--runs 5] [--hardware raspberry-pi-5-8gb]

The models are variations of the knowledge base's open-weights models (layers, widths,
vocabulary, context, languages and benchmark scores drawn from a seeded generator), each
with a BF16 checkpoint beside the seven GGUF quantizations llama.cpp makes, so 8
quantizations; the runtimes are llama.cpp, ollama, transformers and vllm. The time is
`solve.evaluate` (stack enumeration, the vectorised screen of every stack, the exact
evaluation of the best and nearest ones, ranking) in this process after the catalog is
built; the first run also builds the GGUF layouts of the refined stacks.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from dataclasses import replace

RUNTIMES = ("llama.cpp", "ollama", "transformers", "vllm")


def generate(cat, n: int, seed: int = 7):
    """A catalog with n generated open-weights models (and the real runtimes restricted to RUNTIMES)."""
    from advisor.schemas import Artifact

    rnd = random.Random(seed)
    bases = [m for m in cat.models.values() if m.availability == "open-weights" and m.architecture is not None
             and not m.architecture.experts and not m.architecture.per_layer_input_size and not m.encoders]
    langs = sorted({lang for m in cat.models.values() for lang in m.languages})
    models = {}
    for i in range(n):
        b = bases[i % len(bases)]
        a = b.architecture
        k = rnd.choice((0.5, 0.75, 1.0, 1.25, 1.5, 2.0))
        heads = a.attention_heads
        arch = a.model_copy(update={
            "layers": max(4, int(a.layers * rnd.choice((0.5, 0.75, 1.0, 1.25, 1.5)))),
            "intermediate_size": max(256, int(a.intermediate_size * k) // 256 * 256),
            "vocab_size": rnd.choice((32000, 151936, 200064, 262144)),
            "context_length": rnd.choice((4096, 8192, 32768, 131072)),
            "extended_context_length": None,
        })
        n_params = b.params_b * rnd.uniform(0.4, 2.5)
        art = Artifact.model_construct(quantization="bf16", format="safetensors", hf_repo=f"gen/model-{i}",
                                       file=None, size_bytes=None, size_estimated=True)
        models[f"gen-{i:05d}"] = b.model_copy(update={
            "name": f"gen-{i:05d}", "hf_repo": f"gen/model-{i}", "architecture": arch, "params_b": n_params,
            "languages": sorted(set(rnd.sample(langs, rnd.randint(1, min(20, len(langs)))))),
            "languages_claim": None if rnd.random() < 0.8 else "multilingual",
            "benchmarks": [bm.model_copy(update={"value": max(0.0, min(100.0, bm.value + rnd.gauss(0, 8)))})
                           for bm in b.benchmarks],
            "artifacts": [art], "corrections": [], "published_performance": [],
        })
    runtimes = {r: cat.runtimes[r] for r in RUNTIMES if r in cat.runtimes}
    return replace(cat, models=models, runtimes=runtimes)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--hardware", default="raspberry-pi-5-8gb")
    ap.add_argument("--lang", default="sv")
    a = ap.parse_args(argv)

    import os

    # the generated architectures must not fill the user's layout cache (advisor.gguf)
    os.environ["ADVISOR_NO_CACHE"] = "1"
    from advisor.estimate import from_profile
    from advisor.kb import load_catalog
    from advisor.requirements import build
    from advisor.solve import best_per_model, evaluate

    cat = load_catalog()
    t0 = time.perf_counter()
    big = generate(cat, a.models)
    t_gen = time.perf_counter() - t0
    hw = from_profile(a.hardware, cat.hw(a.hardware))
    req = build({"hardware": a.hardware, "languages": [a.lang], "context": 8192})
    quants = sorted({q for m in big.models.values() for q in ({x.quantization for x in m.artifacts}
                                                                | {"q8_0", "q6_k", "q5_k_m", "q4_k_m", "iq4_xs",
                                                                   "q4_0", "q3_k_m"})})
    print(f"generated {len(big.models)} models in {t_gen:.2f} s; quantizations {len(quants)} ({', '.join(quants)}); "
          f"runtimes {len(big.runtimes)} ({', '.join(big.runtimes)}); hardware {a.hardware}; --lang {a.lang}")
    times = []
    for r in range(a.runs):
        stats: dict = {}
        t0 = time.perf_counter()
        cands = evaluate(big, hw, req, stats=stats)
        top = best_per_model(cands, 3)
        times.append(time.perf_counter() - t0)
        print(f"run {r + 1}: {times[-1]:.3f} s; combinations {a.models * len(quants) * len(big.runtimes):,}, "
              f"allowed stacks screened {stats.get('screened', 0):,}, within the screen's margins "
              f"{stats.get('passed', 0):,}, evaluated exactly {stats.get('refined', 0):,}; top: "
              + ", ".join(f"{c.model_id} {c.quant}" for c in top), flush=True)
    print(f"median {statistics.median(times):.3f} s, first {times[0]:.3f} s, best {min(times):.3f} s "
          f"(target: at most 1 s)")


if __name__ == "__main__":
    main()

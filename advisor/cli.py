"""Command line: argument parsing and output only.

Imports only click and the standard library at module level; the knowledge
base, pydantic and anything heavier load inside the commands.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Iterable, Sequence

import click

FORMATS = click.Choice(["table", "json"], case_sensitive=False)


class AdvisorGroup(click.Group):
    """Turns AdvisorError into a message and its exit code; never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        from .errors import AdvisorError

        try:
            return super().invoke(ctx)
        except AdvisorError as e:
            click.echo(f"error: {e}", err=True)
            ctx.exit(e.exit_code)


def _catalog():
    import gc

    from .kb import load_catalog

    cat = load_catalog()
    gc.freeze()  # the catalog and the modules live as long as this process: later collections skip them
    gc.enable()  # run() starts with the collector off while the modules load
    return cat


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], width: int | None = None, wrap: int = -1) -> str:
    """A plain text table; with `width`, column `wrap` is wrapped so that no line is longer than `width`."""
    rows = [["" if v is None else str(v) for v in r] for r in rows]
    widths = [len(h) for h in headers]
    for r in rows:
        widths = [max(w, len(v)) for w, v in zip(widths, r)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    if width is not None and sum(widths) + 2 * (len(widths) - 1) > width:
        import textwrap

        k = wrap % len(widths)
        widths[k] = max(20, width - (sum(widths) - widths[k]) - 2 * (len(widths) - 1))
        wrapped = []
        for r in rows:
            parts = textwrap.wrap(r[k], widths[k], break_on_hyphens=False) or [""]
            wrapped.append(r[:k] + [parts[0]] + r[k + 1:])
            wrapped += [[""] * k + [p] + [""] * (len(r) - k - 1) for p in parts[1:]]
        rows = wrapped
    out = [line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    return "\n".join(out)


def _para(text: str, width: int = 100, indent: str = "    ") -> str:
    import textwrap

    # width in characters as the terminal shows them (a wide character counts double)
    import unicodedata

    extra = sum(unicodedata.east_asian_width(ch) in "WF" for ch in text)
    return textwrap.fill(text, width - min(extra, 20), subsequent_indent=indent, break_on_hyphens=False,
                         break_long_words=True)


def _dump(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False)


@click.group(cls=AdvisorGroup)
@click.version_option(package_name="advisor")
def main() -> None:
    """Choose, defend and verify an on-device or self-hosted small language model."""


# --------------------------------------------------------------------------- catalog


@main.command()
@click.option("--family", "family", default=None, help="Only this family (e.g. qwen, phi, gemma).")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def catalog(family: str | None, fmt: str) -> None:
    """List the models in the knowledge base."""
    from .errors import InputError
    from .views import model_record

    cat = _catalog()
    models = list(cat.models.items())
    if family:
        fam = family.lower()
        if fam not in cat.families:
            raise InputError("--family", f"unknown family '{family}'", ", ".join(sorted(cat.families)))
        models = [(i, m) for i, m in models if m.family == fam]
    if fmt == "json":
        click.echo(_dump([model_record(i, m, cat.quantizations) for i, m in models]))
        return
    rows = []
    for i, m in models:
        a = m.architecture
        rows.append([
            i, m.family, f"{m.params_b:g}" if m.params_b else "unpublished",
            f"{m.active_params_b:g}" if m.active_params_b else "",
            (a.hf_class.removesuffix("ForCausalLM").removesuffix("ForConditionalGeneration") + f" {a.layers}L")
            if a else "", a.context_length if a else "",
            ",".join(m.modalities_in), _langs(m), m.license, m.availability,
        ])
    click.echo(_table(["id", "family", "params_b", "active_b", "architecture", "context", "inputs", "languages",
                       "license", "availability"], rows))
    click.echo(f"\n{len(rows)} models")


def _langs(m) -> str:
    if m.languages:
        text = ",".join(m.languages[:6]) + ("..." if len(m.languages) > 6 else "")
        return f"{text} ({len(m.languages)} listed)"
    if m.languages_claim:
        return f"claim: {m.languages_claim_count}+" if m.languages_claim_count else "claim only"
    return ""


@main.command()
@click.argument("model_id")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def show(model_id: str, fmt: str) -> None:
    """Every fact about one model, each with its source."""
    from .views import model_facts, model_record

    cat = _catalog()
    m = cat.model(model_id)
    if fmt == "json":
        rec = model_record(model_id, m, cat.quantizations)
        rec["facts"] = [dict(zip(("field", "value", "sources"), f)) for f in model_facts(m)]
        click.echo(_dump(rec))
        return
    click.echo(_para(f"{m.name}  ({model_id}, {cat.files['models/' + model_id]})"))
    click.echo(f"family: {m.family}" + (f", series: {m.series}" if m.series else "")
               + f"; weights: {m.hf_repo or 'none public (' + m.availability + ')'}\n")
    rows = [(f, v, ", ".join(s)) for f, v, s in model_facts(m)]
    click.echo(_table(["field", "value", "source"], rows, width=100, wrap=1))
    click.echo("\nsources:")
    for key, s in sorted(m.sources.items()):
        click.echo(_para(f"  {key}: {s.kind}: {s.ref}" + (f" ({s.note})" if s.note else "")))
    if m.corrections:
        click.echo("\ncorrections to the course:")
        for c in m.corrections:
            click.echo(_para(f"  {c.field}: course says {c.course_says}; {c.primary_says} [{c.source}]"))
    for n in m.notes:
        click.echo(_para(f"note: {n}"))


@main.group("runtime")
def runtime_group() -> None:
    """Runtimes (the ids --runtime takes)."""


@runtime_group.command("list")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def runtime_list(fmt: str) -> None:
    """List the runtimes: formats, quantizations, backends and platforms."""
    cat = _catalog()
    recs = [{"id": i, "name": r.name, "kind": r.kind, "formats": list(r.formats), "quantizations": list(r.quantizations),
             "backends": list(r.backends), "platforms": list(r.platforms), "install": r.install}
            for i, r in cat.runtimes.items()]
    if fmt == "json":
        click.echo(_dump(recs))
        return
    click.echo(_table(["id", "kind", "formats", "backends", "platforms"],
                      [[r["id"], r["kind"], ",".join(r["formats"]), ",".join(r["backends"]), ",".join(r["platforms"])]
                       for r in recs]))


@main.group("quantization")
def quantization_group() -> None:
    """Quantizations (the ids --quant takes)."""


@quantization_group.command("list")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def quantization_list(fmt: str) -> None:
    """List the quantizations: id, display name, format, bits per weight, runtimes that load it."""
    cat = _catalog()
    recs = [{"id": i, "name": q.name, "format": q.format, "bits_per_weight": q.bits_per_weight,
             "runtimes": [r for r, rt in cat.runtimes.items() if i in rt.quantizations]}
            for i, q in cat.quantizations.items()]
    if fmt == "json":
        click.echo(_dump(recs))
        return
    click.echo(_table(["id", "name", "format", "bits/weight", "runtimes"],
                      [[r["id"], r["name"], r["format"], f"{r['bits_per_weight']:g}", ",".join(r["runtimes"])]
                       for r in recs]))


@main.group("artifacts")
def artifacts_group() -> None:
    """The published files the knowledge base records (repositories, files, sizes)."""


@artifacts_group.command("refresh")
@click.argument("model_ids", nargs=-1)
@click.option("--all", "all_models", is_flag=True, help="Every open-weights model of the catalog.")
@click.option("--revision", default="main", show_default=True)
@click.option("--write", is_flag=True, help="Record the listed sizes in the knowledge files (source: the listing).")
@click.option("--root", type=click.Path(file_okay=False), default=None, help="Knowledge directory (default: the bundled one).")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def artifacts_refresh(model_ids, all_models, revision, write, root, fmt) -> None:
    """Read each recorded repository's file listing from the Hugging Face Hub (huggingface_hub) and compare the
    sizes; --write records them. Needs the Hub (HF_HUB_OFFLINE unset)."""
    from .errors import InputError
    from .hub import refresh, write as write_sizes
    from .kb import load_catalog

    cat = load_catalog(root) if root else _catalog()
    if not model_ids and not all_models:
        raise InputError("MODEL", "name one or more models, or give --all", "model ids from `advisor catalog`")
    ids = [i for i, m in cat.models.items() if m.availability == "open-weights"] if all_models else list(model_ids)
    for i in ids:
        cat.model(i)
    rows = refresh(cat, ids, revision)
    changed = write_sizes(cat, rows) if write else []
    if fmt == "json":
        click.echo(_dump({"artifacts": rows, "written": changed}))
        return
    click.echo(_table(["model", "repository", "file", "recorded", "listed", "status"],
                      [[r["model"], r["hf_repo"], r["file"] or "(all files)",
                        r["recorded_bytes"] or "", r["listed_bytes"] or "", r["status"]] for r in rows]))
    for f in changed:
        click.echo(f"written: {f}")


# --------------------------------------------------------------------------- hardware


@main.group()
def hardware() -> None:
    """Hardware profiles."""


@hardware.command("list")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def hardware_list(fmt: str) -> None:
    """List the hardware profiles in the knowledge base."""
    from .views import hardware_record

    cat = _catalog()
    recs = [hardware_record(i, h) for i, h in cat.hardware.items()]
    if fmt == "json":
        click.echo(_dump(recs))
        return
    rows = [
        [r["id"], r["name"], f"{r['memory_gb']:g}", r["memory_kind"], f"{r['bandwidth_gbps']:g}",
         r["platform"], ",".join(r["backends"]), f"{r['npu_tops']:g}" if r["npu_tops"] else ""]
        for r in recs
    ]
    click.echo(_table(["id", "name", "memory_gb", "kind", "bandwidth_gbps", "platform", "backends", "npu_tops"], rows))


@hardware.command("gpus")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def hardware_gpus(fmt: str) -> None:
    """List the GPU and accelerator catalog (ids for --gpu), with each figure's source."""
    from .views import accelerator_record

    cat = _catalog()
    recs = [accelerator_record(i, a) for i, a in cat.accelerators.items()]
    if fmt == "json":
        click.echo(_dump(recs))
        return
    rows = [[r["id"], r["name"], r["kind"], f"{r['memory_gb']:g}", r["memory_type"], f"{r['bandwidth_gbps']:g}",
             f"{r['fp16_tflops']:g}" if r["fp16_tflops"] else "", ",".join(r["backends"])] for r in recs]
    click.echo(_table(["id", "name", "kind", "memory_gb", "memory", "bandwidth_gbps", "fp16_tflops", "backends"], rows))


@hardware.command("detect")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--refresh", is_flag=True, help="Measure bandwidth and FLOP/s again instead of using the cache.")
def hardware_detect(fmt: str, refresh: bool) -> None:
    """This machine: RAM, CPU, SIMD, GPUs, and its measured memory bandwidth (cached)."""
    from .hardware import detect

    d = detect(refresh=refresh).as_dict()
    if fmt == "json":
        click.echo(_dump(d))
        return
    for k, v in d.items():
        if isinstance(v, list):
            v = ", ".join(str(x) if not isinstance(x, dict) else f"{x['name']} ({x['memory_gb']:.0f} GB)" for x in v) or "none"
        click.echo(f"{k:18s} {v}")


# --------------------------------------------------------------------------- estimate


@main.command()
@click.argument("model_id")
@click.option("--quant", "quant", default="Q4_K_M", show_default=True, help="Quantization, e.g. Q4_K_M, Q8_0, BF16.")
@click.option("--runtime", "runtime", default="llama.cpp", show_default=True)
@click.option("--context", "context", default="8192", show_default=True, help="Context in tokens (8192, 8K).")
@click.option("--hardware", "hardware_id", default=None, help="A hardware profile id (`advisor hardware list`).")
@click.option("--ram", default=None, help="Memory budget, e.g. 8GB (with this machine's CPU).")
@click.option("--vram", default=None, help="GPU memory budget, e.g. 24GB.")
@click.option("--bandwidth", type=float, default=None, help="Memory bandwidth in GB/s.")
@click.option("--gpu", default=None, help="A GPU: catalog id (`advisor hardware gpus`) or its name as nvidia-smi prints it.")
@click.option("--tflops", type=float, default=None, help="The GPU's dense matrix TFLOP/s for prefill (NVIDIA: half its INT8 peak; CPU: FP32).")
@click.option("--gpus", default=None, help="GPUs of the --gpu/--vram kind in the machine (default 1).")
@click.option("--interconnect", default=None, help="Between them: nvlink or pcie (default: NVLink for SXM cards).")
@click.option("--nodes", default=None, help="Machines of that kind (default 1): vLLM spans them, a pipeline stage on each.")
@click.option("--prompt-tokens", "prompt_tokens", default="512", show_default=True)
@click.option("--kv-cache", "kv", type=click.Choice(["f16", "q8_0", "q4_0"]), default="f16", show_default=True)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def estimate(model_id, quant, runtime, context, hardware_id, ram, vram, bandwidth, gpu, tflops, gpus, interconnect,
             nodes, prompt_tokens, kv, fmt) -> None:
    """Memory and speed of one model + quantization + runtime, with the basis of every figure."""
    from .api import resolve_hardware
    from .estimate import estimate_stack
    from .units import parse_tokens

    cat = _catalog()
    ctx = parse_tokens(context, "--context")
    pt = parse_tokens(prompt_tokens, "--prompt-tokens")
    from .requirements import build

    hw_req = build({"gpus": gpus, "interconnect": interconnect, "nodes": nodes})  # checked as recommend checks them
    spec = resolve_hardware(cat, hardware_id, ram, vram, bandwidth, gpu, tflops, hw_req.gpus, hw_req.interconnect,
                            hw_req.nodes)
    est = estimate_stack(cat, model_id, quant, runtime, ctx, spec, prompt_tokens=pt, kv=kv,
                         extra_profiles=_user_profiles())
    rec = est.as_dict()
    if fmt == "json":
        click.echo(_dump(rec))
        return
    from .explain import estimate_lines

    for line in estimate_lines(rec, ctx, pt, spec.name):
        click.echo(line)
    click.echo("assumptions:")
    for a in rec["assumptions"]:
        click.echo(f"  - {a}")


@main.command()
@click.argument("model_id")
@click.option("--gpu", required=True, help="A GPU: catalog id (`advisor hardware gpus`) or its name as nvidia-smi prints it.")
@click.option("--gpus", default="8", show_default=True, help="GPUs in the node: TP layouts up to this many.")
@click.option("--context", "context", default="8192", show_default=True, help="vLLM --max-model-len (8192, 32K).")
@click.option("--kv-cache-dtype", "kv_dtype", default="auto", show_default=True, help="auto (the model dtype) or fp8.")
@click.option("--gpu-memory-utilization", "util", default="0.9", show_default=True)
@click.option("--concurrent-users", "users", default=None,
              help="Users served at once: the replicas and GPUs each layout needs (KV capacity, and with "
                   "--target-tps the time per token).")
@click.option("--target-tps", "target", default=None, help="Decode tok/s each user must see, e.g. 20.")
@click.option("--prompt-tokens", "prompt", default="1024", show_default=True, help="Prompt tokens per request.")
@click.option("--output-tokens", "output", default="512", show_default=True, help="Output tokens per request.")
@click.option("--requests-per-s", "rate", default=None,
              help="Arrival rate instead of --concurrent-users: users in flight by Little's law.")
@click.option("--max-gpus", "max_gpus", default=None,
              help="GPUs the cluster has (default: one node, --gpus): PP across nodes beyond one node.")
@click.option("--interconnect", default="auto", show_default=True, type=click.Choice(["auto", "nvlink", "pcie"]),
              help="Between the GPUs of a node (TP's all-reduces); auto: NVLink on SXM/HGX boards, else PCIe.")
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Write the chosen layout's deploy files (vllm.sh, k8s.yaml, kserve.yaml, helm-values.yaml, "
                   "ray-cluster.sh, raycluster.yaml) and capacity.md here.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def capacity(model_id, gpu, gpus, context, kv_dtype, util, users, target, prompt, output, rate, max_gpus, interconnect,
             out_dir, fmt) -> None:
    """vLLM on GPU nodes: per GPU memory, KV cache tokens and the concurrency vLLM logs for each TP; with
    --concurrent-users (or --requests-per-s) the layouts, replicas and GPUs for that load, their time per output
    token, aggregate tok/s and time to first token."""
    from .errors import InputError
    from .estimate import find_accelerator
    from .units import parse_tokens
    from .vllm import KV_DTYPE_BYTES, capacity as layouts, cuda_total_gib

    cat = _catalog()
    m = cat.model(model_id)
    if m.architecture is None:
        raise InputError("MODEL", f"{model_id} has no published architecture", "an open-weights model id")
    gid, acc = find_accelerator(cat, gpu)
    ctx = parse_tokens(context, "--context")
    n = _whole(gpus, "--gpus")
    u = _number(util, "--gpu-memory-utilization", share=True)
    if kv_dtype not in KV_DTYPE_BYTES:
        raise InputError("--kv-cache-dtype", f"unknown '{kv_dtype}'", ", ".join(KV_DTYPE_BYTES))
    n_users = _whole(users, "--concurrent-users") if users is not None else None
    pt, ot = parse_tokens(prompt, "--prompt-tokens"), parse_tokens(output, "--output-tokens")
    tps = _number(target, "--target-tps") if target is not None else None
    rps = _number(rate, "--requests-per-s") if rate is not None else None
    most = _whole(max_gpus, "--max-gpus") if max_gpus is not None else n
    if pt + ot > ctx:
        raise InputError("--context", f"{ctx} tokens do not hold --prompt-tokens {pt} + --output-tokens {ot}",
                         f"at least {pt + ot} (vLLM's --max-model-len)")
    serving = None
    if n_users or rps:
        from .serving import gpu_of, plan_layouts, serve_point, users_for_rate

        g = gpu_of(gid, acc, None if interconnect == "auto" else interconnect)
        if rps and not n_users:
            tp0 = next((r["tp"] for r in layouts(m, cuda_total_gib(acc.memory_gb), n, max_model_len=ctx,
                                                  kv_dtype=kv_dtype, util=u) if not r["refused"] and r["starts"]), n)
            one = serve_point(m.architecture, g, tp=tp0, users=1, prompt_tokens=pt, output_tokens=ot,
                              kv_bytes=KV_DTYPE_BYTES[kv_dtype])
            n_users = users_for_rate(rps, one, ot)
        serving = plan_layouts(m, g, users=n_users, prompt_tokens=pt, output_tokens=ot, target_tps=tps,
                               gpus_per_node=n, max_gpus=most, max_model_len=ctx, kv_dtype=kv_dtype, util=u)
        serving.update(model=model_id, requests_per_s=rps)
    from .vllm import fewest_gpus

    # KV capacity alone (requests of --context tokens), beside the serving plan that adds time and the workload
    rows = layouts(m, cuda_total_gib(acc.memory_gb), n, max_model_len=ctx, kv_dtype=kv_dtype, util=u, users=n_users)
    rec = {"model": model_id, "gpu": gid, "gpu_total_gib": round(cuda_total_gib(acc.memory_gb), 2), "gpus": n,
           "max_model_len": ctx, "kv_cache_dtype": kv_dtype, "gpu_memory_utilization": u,
           "concurrent_users": n_users, "layouts": rows, "fewest_gpus": fewest_gpus(rows) if n_users else None,
           "serving": serving}
    from .explain import capacity_lines, serving_lines

    if out_dir:
        _write_serving(cat, m, model_id, serving, out_dir, capacity_lines(rec) + [""] + (serving_lines(serving)
                                                                                         if serving else []))
    if fmt == "json":
        click.echo(_dump(rec))
        return
    for line in capacity_lines(rec):
        click.echo(line)
    if serving:
        for line in serving_lines(serving):
            click.echo(line)


def _write_serving(cat, m, model_id: str, serving, out_dir: str, lines: list[str]) -> None:
    """The chosen layout's deploy files and the capacity table, under out_dir (deploy/ and capacity.md)."""
    import datetime
    from pathlib import Path

    from .errors import InputError
    from .plan.serving_deploy import layout_from, serving_files

    if not serving or not serving["chosen"]:
        raise InputError("--out", "no layout serves this load, so there is nothing to deploy",
                         "--concurrent-users with a layout that fits (see the table without --out)")
    layout = layout_from({**serving, "repo": m.hf_repo or model_id}, datetime.date.today().isoformat())
    out = Path(out_dir)
    (out / "deploy").mkdir(parents=True, exist_ok=True)
    for name, text in sorted(serving_files(layout).items()):
        p = out / "deploy" / name
        p.write_text(text)
        if name.endswith(".sh"):
            p.chmod(0o755)
    (out / "capacity.md").write_text("```\n" + "\n".join(lines) + "\n```\n")
    click.echo(f"wrote {out / 'capacity.md'} and {len(serving_files(layout))} files in {out / 'deploy'}", err=True)


def _number(value, flag: str, *, share: bool = False) -> float:
    """A positive finite number (with `share`, at most 1), or bad input naming the flag."""
    from .errors import InputError

    form = "a share in (0, 1], e.g. 0.9" if share else "a positive number, e.g. 20"
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(flag, f"cannot read '{value}'", form) from None
    if not 0 < v < float("inf") or (share and v > 1):
        raise InputError(flag, "must be in (0, 1]" if share else "must be a positive number", form)
    return v


def _whole(value, flag: str) -> int:
    """A whole number of at least 1, or bad input naming the flag."""
    from .errors import InputError

    try:
        n = int(value)
    except (TypeError, ValueError):
        raise InputError(flag, f"cannot read '{value}'", "a whole number of at least 1") from None
    if n < 1:
        raise InputError(flag, "must be at least 1", "a whole number of at least 1")
    return n


def _announce(text: str) -> None:
    """What a run is about to do, on stderr (stdout stays the result, JSON included); the runner's progress
    lines follow it there."""
    import os

    os.environ.setdefault("ADVISOR_PROGRESS", "1")
    click.echo(text, err=True)


def _verbose(on: bool) -> None:
    """--verbose: the runner's own log (llama.cpp, PyTorch) goes to stderr; otherwise it is kept and shown only
    when a run fails."""
    import os

    if on:
        os.environ["ADVISOR_VERBOSE"] = "1"


def _profiling(command: str, module: str, file, synthetic):
    """A profiling module, or a clear error when the optional extra is missing; checks --file/--synthetic."""
    import importlib

    from .errors import InputError

    if file and synthetic:
        raise InputError("--file", "give either --file or --synthetic", "--file PATH or --synthetic, not both")
    try:
        return importlib.import_module(module)
    except ImportError as e:  # the optional extra is missing
        raise InputError("advisor[profile]", f"{command} needs the profile extra ({e.name} is missing)",
                         "pip install 'advisor[profile]'") from None


@main.command()
@click.argument("model_id")
@click.option("--quant", "quant", default="Q4_K_M", show_default=True)
@click.option("--runtime", "runtime", default="llama.cpp", show_default=True)
@click.option("--file", "file", default=None,
              help="A local GGUF (llama.cpp) or checkpoint folder (transformers) instead of downloading.")
@click.option("--synthetic", is_flag=True, help="Random weights with the model's exact shapes (no download).")
@click.option("--context", "context", default="4096", show_default=True)
@click.option("--prompt-tokens", "prompt_tokens", default="512", show_default=True)
@click.option("--gen-tokens", "gen_tokens", default="128", show_default=True)
@click.option("--repeats", type=click.IntRange(1, 100), default=3, show_default=True)
@click.option("--threads", type=click.IntRange(1, 1024), default=None)
@click.option("--profiles-dir", default=None, help="Where profiles are stored (default: the user data folder).")
@click.option("--force", is_flag=True, help="Run even when the prediction exceeds available memory.")
@click.option("--verbose", is_flag=True, help="Show llama.cpp's (or PyTorch's) own log while it runs.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def profile(model_id, quant, runtime, file, synthetic, context, prompt_tokens, gen_tokens, repeats, threads,
            profiles_dir, force, verbose, fmt) -> None:
    """Run MODEL on this machine (llama.cpp, or Transformers with --runtime transformers --quant BF16),
    store the measurement, compare with the prediction."""
    from .errors import InputError
    from .units import parse_tokens

    _verbose(verbose)
    RunSettings = _profiling("profile", "profiling.measure", file, synthetic).RunSettings
    profile_stack = _profiling("profile", "profiling.profile", file, synthetic).profile_stack
    ctx = parse_tokens(context, "--context")
    s = RunSettings(context=ctx, prompt_tokens=parse_tokens(prompt_tokens, "--prompt-tokens"),
                    gen_tokens=parse_tokens(gen_tokens, "--gen-tokens"), repeats=repeats, threads=threads)
    if s.prompt_tokens + s.gen_tokens + 8 > ctx:
        raise InputError("--prompt-tokens", f"prompt + generated tokens must fit in the context ({ctx})")
    out = profile_stack(_catalog(), model_id, quant, runtime=runtime, file=file, synthetic=synthetic, settings=s,
                        force=force, profiles_dir=profiles_dir, announce=_announce)
    if fmt == "json":
        click.echo(_dump(out.as_dict()))
        return
    p = out.profile
    if p.synthetic:
        click.echo(f"synthetic {'model' if p.runtime == 'transformers' else 'GGUF'}: random weights with the model's "
                   "exact shapes; speed and memory are the real model's, the generated text is meaningless")
    click.echo(f"{model_id} {p.quantization} with {p.runtime_version}, {p.threads} threads, context {ctx}: "
               f"load {p.load_s:.1f} s")
    rows = []
    for k, pred, meas, unit in out.comparison:
        err = f"{pred / meas - 1:+.0%}" if (pred is not None and meas) else "-"
        rows.append([k, f"{pred:.2f}" if pred is not None else "-", f"{meas:.2f}" if meas is not None else "-", unit, err])
    click.echo(_table(["figure", "predicted", "measured", "unit", "error"], rows))
    d = p.decode_tokens_per_s
    click.echo(f"decode tokens/s over {d.n} repeats: min {d.min:.2f}, median {d.median:.2f}, max {d.max:.2f}")
    if p.rss_anon_bytes:
        click.echo(f"resident memory at the end: anonymous {p.rss_anon_bytes / 1e9:.2f} GB, "
                   f"file-backed (mapped weights) {p.rss_file_bytes / 1e9:.2f} GB")
    for note in p.notes:
        click.echo(f"note: {note}")
    click.echo(f"stored: {out.path}")


@main.group()
def profiles() -> None:
    """Stored measured profiles (from `advisor profile`)."""


@profiles.command("list")
@click.option("--profiles-dir", default=None)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def profiles_list(profiles_dir, fmt) -> None:
    from advisor.store import list_profiles

    items = list_profiles(profiles_dir)
    if fmt == "json":
        click.echo(_dump([{"id": i, "path": str(path), **p.model_dump(mode="json", exclude_none=True)}
                          for i, path, p in items]))
        return
    rows = [[i, p.model, p.quantization, p.context, f"{p.decode_tokens_per_s.median:.1f}",
             f"{p.peak_rss_bytes / 1e9:.2f}" if p.peak_rss_bytes else "", p.measured_at, "yes" if p.synthetic else ""]
            for i, _, p in items]
    click.echo(_table(["id", "model", "quant", "context", "decode_tps", "peak_gb", "measured_at", "synthetic"], rows))


@profiles.command("show")
@click.argument("profile_id")
@click.option("--profiles-dir", default=None)
def profiles_show(profile_id, profiles_dir) -> None:
    from advisor.store import find_profile

    path, _ = find_profile(profile_id, profiles_dir)
    click.echo(path.read_text())


@profiles.command("rm")
@click.argument("profile_id")
@click.option("--profiles-dir", default=None)
def profiles_rm(profile_id, profiles_dir) -> None:
    from advisor.store import find_profile

    path, _ = find_profile(profile_id, profiles_dir)
    path.unlink()
    click.echo(f"removed {path}")


@main.group()
def cache() -> None:
    """The advisor's cache folder (catalog, stack paths, hardware measurements, synthetic models)."""


@cache.command("clean")
def cache_clean() -> None:
    """Remove the cached synthetic models and the catalog and stack-path caches."""
    from .kb import cache_dir

    n = freed = 0
    base = cache_dir()
    try:
        from profiling.synth import cache_dir as synth_dir, clean
    except ImportError:  # the profiling package is part of the install; be safe anyway
        synth_dir = clean = None
    if clean is not None:
        n, freed = clean(synth_dir())
    if base is not None and base.is_dir():
        for p in base.glob("*.pickle"):
            freed += p.stat().st_size
            p.unlink(missing_ok=True)
            n += 1
    click.echo(f"removed {n} cached files, {freed / 1e9:.2f} GB freed")


# --------------------------------------------------------------------------- recommend

REC_FORMATS = click.Choice(["table", "json", "markdown"], case_sensitive=False)


_REQUIREMENT_OPTIONS = [
    click.option("--spec", "spec_file", default=None, help="YAML file with the same keys as the flags (flags override it)."),
    click.option("--ram", default=None, help="Memory budget, e.g. 4GB, 512MB."),
    click.option("--vram", default=None, help="GPU memory budget, e.g. 24GB."),
    click.option("--hardware", "hardware_id", default=None, help="A hardware profile id (`advisor hardware list`)."),
    click.option("--gpu", default=None, help="A GPU: catalog id (`advisor hardware gpus`) or its nvidia-smi name."),
    click.option("--gpus", default=None,
                 help="GPUs of the --gpu/--vram kind in the machine (default 1): memory adds up; speed is all of "
                      "them under tensor parallelism (vLLM), one at a time under a layer split (llama.cpp, Ollama)."),
    click.option("--interconnect", default=None,
                 help="Between those GPUs: nvlink or pcie (default: NVLink for SXM cards, else PCIe)."),
    click.option("--nodes", default=None,
                 help="Machines of that kind (a cluster, default 1): vLLM spans them with a pipeline stage on each."),
    click.option("--max-gpus", "max_gpus", default=None,
                 help="The most GPUs a vLLM deployment may take (replicas x TP x PP; default all of them)."),
    click.option("--bandwidth", default=None, help="Memory bandwidth in GB/s of the device the model runs on."),
    click.option("--tflops", default=None, help="The GPU's dense matrix TFLOP/s (NVIDIA: half its INT8 peak; CPU: FP32), for prefill and TTFT."),
    click.option("--lang", multiple=True, help="ISO 639-1 code; repeat or comma-separate."),
    click.option("--modality", multiple=True, help="text, image, audio, video."),
    click.option("--task", multiple=True, help="chat, code, math, reasoning, function-calling, ..."),
    click.option("--context", default=None, help="Context in tokens (default 8192)."),
    click.option("--min-tps", "--target-tps", "min_tps", default=None,
                 help="Lowest acceptable decode tokens/s (each user's, with --concurrent-users)."),
    click.option("--max-ttft-ms", "max_ttft_ms", default=None, help="Longest acceptable time to first token."),
    click.option("--prompt-tokens", "prompt_tokens", default=None, help="Prompt length for TTFT (default 512)."),
    click.option("--license", "license_", multiple=True, help="any, permissive, commercial, or SPDX ids."),
    click.option("--platform", default=None, help="linux, windows, macos, android, ios."),
    click.option("--runtime", "runtimes", multiple=True, help="Allowed runtimes (default: all)."),
    click.option("--max-download-gb", "max_download_gb", default=None, help="0: only models already on the platform."),
    click.option("--headroom", default=None, help="Share of memory kept free (default 0.1)."),
    click.option("--prefer", default=None, help="quality (default), speed or memory."),
    click.option("--top", default=None, help="How many recommendations (default 3)."),
    click.option("--as-of", "as_of", default=None,
                 help="What is offered on this date, YYYY-MM-DD (default today): built-ins come and go."),
    click.option("--lang-strict", "lang_strict", is_flag=True, default=None,
                 help="Only languages the model card lists; a broad claim ('140+ languages') is not enough."),
    click.option("--kv-cache", "kv_cache", default=None,
                 help="KV cache type: f16 (default), q8_0 or q4_0 (llama.cpp --cache-type-k/v; less memory)."),
    click.option("--concurrent-users", "concurrent_users", default=None,
                 help="Requests served at once (default 1): a KV cache of --context for each, speed per user."),
    click.option("--output-tokens", "output_tokens", default=None, help="Output tokens per request (default 256)."),
    click.option("--requests-per-s", "requests_per_s", default=None,
                 help="Arrival rate: each stack serves the requests in flight it implies (Little's law)."),
]


def requirement_options(f):
    """The requirement flags shared by recommend, why and verify."""
    for opt in reversed(_REQUIREMENT_OPTIONS):
        f = opt(f)
    return f


def _requirements(*args, **kw):
    """(catalog, Requirements, HardwareSpec) from a spec file and the flags (flags win)."""
    from .api import resolve

    raw = _raw(*args, **kw)
    cat = _catalog()
    req, spec = resolve(cat, raw)
    return cat, req, spec


def _raw(spec_file, ram, vram, hardware_id, gpu, gpus, interconnect, nodes, max_gpus, bandwidth, tflops, lang, modality, task, context, min_tps, max_ttft_ms,
         prompt_tokens, license_, platform, runtimes, max_download_gb, headroom, prefer, top, as_of=None,
         lang_strict=None, kv_cache=None, concurrent_users=None, output_tokens=None, requests_per_s=None):
    """The raw requirements of a spec file and the flags (flags win)."""
    from .requirements import load_spec

    raw = load_spec(spec_file) if spec_file else {}
    flags = {"ram_gb": ram, "vram_gb": vram, "hardware": hardware_id, "gpu": gpu, "gpus": gpus,
             "interconnect": interconnect, "nodes": nodes, "max_gpus": max_gpus, "bandwidth_gbps": bandwidth,
             "tflops": tflops, "languages": list(lang) or None,
             "modalities": list(modality) or None, "tasks": list(task) or None, "context": context,
             "min_tps": min_tps, "max_ttft_ms": max_ttft_ms, "prompt_tokens": prompt_tokens,
             "license": list(license_) or None, "platform": platform, "runtimes": list(runtimes) or None,
             "max_download_gb": max_download_gb, "headroom": headroom, "prefer": prefer, "top": top,
             "as_of": as_of, "lang_strict": lang_strict, "kv_cache": kv_cache,
             "concurrent_users": concurrent_users, "output_tokens": output_tokens,
             "requests_per_s": requests_per_s}
    raw.update({k: v for k, v in flags.items() if v is not None})
    return raw


@main.command()
@requirement_options
@click.option("--format", "fmt", type=REC_FORMATS, default="table", show_default=True)
def recommend(fmt, **flags) -> None:
    """Recommend model + quantization + runtime for your requirements, with the reasons."""
    from .report import recommend_report, render_markdown, render_table

    cat, req, spec = _requirements(**flags)
    rep = recommend_report(cat, req, spec, _user_profiles())
    if fmt == "json":
        click.echo(_dump(rep))
    elif fmt == "markdown":
        click.echo(render_markdown(rep))
    else:
        click.echo(render_table(rep))
    if not rep["recommendations"]:
        sys.exit(3)


@main.command()
@click.argument("model_id")
@requirement_options
@click.option("--format", "fmt", type=REC_FORMATS, default="table", show_default=True)
def why(model_id, fmt, **flags) -> None:
    """Explain one model's fate under the requirements: recommended, outranked, or rejected and why."""
    from .report import render_why_markdown, render_why_table, why_report

    cat, req, spec = _requirements(**flags)
    cat.model(model_id)  # unknown id: exit 2 naming the accepted ids
    rep = why_report(cat, req, spec, model_id, _user_profiles())
    if fmt == "json":
        click.echo(_dump(rep))
    elif fmt == "markdown":
        click.echo(render_why_markdown(rep))
    else:
        click.echo(render_why_table(rep))


@main.command()
@requirement_options
@click.option("--synthetic", is_flag=True, help="Random weights with the pick's exact shapes (no download).")
@click.option("--file", "file", default=None, help="A local GGUF of the pick instead of downloading it.")
@click.option("--gen-tokens", "gen_tokens", default="64", show_default=True)
@click.option("--repeats", type=click.IntRange(1, 100), default=3, show_default=True)
@click.option("--threads", type=click.IntRange(1, 1024), default=None)
@click.option("--fill/--no-fill", default=True, show_default=True,
              help="Fill the whole context after the timed runs, so the memory peak is the full-context one.")
@click.option("--profiles-dir", default=None, help="Where the run is stored (default: the user data folder).")
@click.option("--force", is_flag=True, help="Run even when the prediction exceeds available memory.")
@click.option("--verbose", is_flag=True, help="Show llama.cpp's (or PyTorch's) own log while it runs.")
@click.option("--on-target", "on_target_", is_flag=True,
              help="This machine is the --hardware profile's device (a plan's verify.sh): check against its budget.")
@click.option("--fleet", "fleet_spec", default=None, type=click.Path(dir_okay=False),
              help="A fleet spec: verify each device class on a lab node of that class (with --ray).")
@click.option("--ray", "ray_address", default=None, help="With --fleet: the lab's Ray cluster, host:port or auto.")
@click.option("--retries", type=click.IntRange(0, 10), default=2, show_default=True,
              help="With --fleet: times Ray reruns a class whose worker or node died.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
def verify(synthetic, file, gen_tokens, repeats, threads, fill, profiles_dir, force, verbose, on_target_, fleet_spec,
           ray_address, retries, fmt, **flags) -> None:
    """Recommend, run the pick here with llama.cpp, and PASS/FAIL each constraint (exit 4 on any FAIL). With
    --fleet and --ray, each device class runs on a lab node of its class (exit 3 when a class has no node)."""
    from .units import parse_tokens

    _verbose(verbose)
    if fleet_spec or ray_address:
        _verify_fleet(fleet_spec, ray_address, synthetic, parse_tokens(gen_tokens, "--gen-tokens"), repeats, threads,
                      fill, profiles_dir, retries, fmt, flags)
        return
    run_verify = _profiling("verify", "profiling.verify", file, synthetic).verify
    from .api import on_target, resolve

    cat = _catalog()
    raw, target_note = on_target(cat, _raw(**flags)) if on_target_ else (_raw(**flags), None)
    req, spec = resolve(cat, raw)
    if req.concurrent_users > 1 or req.requests_per_s:  # the harness runs one stream: check that, and say so
        import dataclasses

        from .explain import users_not_verified

        click.echo(users_not_verified(req.concurrent_users, req.requests_per_s), err=True)
        req = dataclasses.replace(req, concurrent_users=1, requests_per_s=None)
    out = run_verify(cat, req, spec, synthetic=synthetic, file=file, gen_tokens=parse_tokens(gen_tokens, "--gen-tokens"),
                     repeats=repeats, threads=threads, fill=fill, force=force, profiles_dir=profiles_dir,
                     user_profiles=_user_profiles(), announce=_announce)
    if fmt == "json":
        click.echo(_dump(out.as_dict()))
    else:
        p = out.pick
        click.echo(f"pick: {p['model']} {p['quantization']} on {p['runtime']}, context {p['context']}")
        for x in out.passed_over:
            click.echo(f"passed over: {x['model']} {x['quantization']} on {x['runtime']}: {x['reason']}")
        for n in ([target_note] if target_note else []) + out.notes:
            click.echo(f"note: {n}")
        rows = []
        for c in out.checks:
            err = f"{c.predicted / c.measured - 1:+.0%}" if (c.predicted is not None and c.measured) else "-"
            rows.append([c.name, c.required or "(no requirement)", f"{c.predicted:.2f}" if c.predicted is not None else "-",
                         f"{c.measured:.2f}" if c.measured is not None else "-", c.unit, err, c.status])
        click.echo(_table(["check", "required", "predicted", "measured", "unit", "error", "result"], rows))
        click.echo(f"stored: {out.profile_path}")
        click.echo("PASS" if out.ok else "FAIL")
    if not out.ok:
        sys.exit(4)


def _verify_fleet(fleet_spec, ray_address, synthetic, gen_tokens, repeats, threads, fill, profiles_dir, retries, fmt,
                  flags) -> None:
    from .errors import InputError
    from .plan import PLAN_KEYS
    from .plan.fleet import parse_fleet
    from .requirements import load_spec

    if not fleet_spec or not ray_address:
        raise InputError("--fleet" if not fleet_spec else "--ray", "--fleet and --ray go together",
                         "--fleet SPEC --ray auto|HOST:PORT")
    try:
        import ray  # noqa: F401
    except ImportError:
        raise InputError("--ray", "Ray is not installed", "pip install -e '.[lab]'") from None
    lab = _profiling("verify", "profiling.lab", None, synthetic)
    spec = load_spec(fleet_spec)
    if spec.get("fleet") is None:
        raise InputError("--fleet", f"{fleet_spec} lists no device classes", "a spec with fleet: [...]")
    classes = parse_fleet(spec["fleet"])
    raw = _raw(**{**flags, "spec_file": None})
    base = {**{k: v for k, v in spec.items() if k not in PLAN_KEYS and k != "fleet"}, **raw}
    rep = lab.verify_fleet(classes, base, address=ray_address, synthetic=synthetic, gen_tokens=gen_tokens,
                           repeats=repeats, fill=fill, threads=threads, profiles_dir=profiles_dir, retries=retries,
                           announce=_announce)
    if fmt == "json":
        click.echo(_dump(rep))
    else:
        rows = [[r["class"], r["resource"], r["status"], r["node"] or "-",
                 f"{r['pick']['model']} {r['pick']['quantization']}" if r["pick"] else "-",
                 ("PASS" if r["ok"] else "FAIL") if r["ok"] is not None else "-", r["error"] or ", ".join(r["profiles"])]
                for r in rep["classes"]]
        click.echo(_table(["class", "resource", "status", "node", "pick", "result", "stored / why"], rows))
    if rep["failed"]:
        sys.exit(4)
    if rep["unverified"]:
        sys.exit(3)


@main.group()
def lab() -> None:
    """A device lab on Ray: nodes advertise their hardware class; `verify --fleet` runs each class there."""


@lab.command("join")
@click.option("--address", required=True, help="The lab's Ray head, host:port (ray start --head prints it).")
@click.option("--hardware", "hardware_id", default=None, help="This node's class: a hardware id of the fleet spec.")
@click.option("--class", "class_name", default=None, help="Or the class name, for a class given by RAM/VRAM.")
@click.option("--run", is_flag=True, help="Run `ray start` instead of printing it.")
def lab_join(address, hardware_id, class_name, run) -> None:
    """Print (or run) the `ray start` that joins this node to the lab as its device class."""
    from .errors import InputError

    if bool(hardware_id) == bool(class_name):
        raise InputError("--hardware", "give the node's class once", "--hardware ID (of the fleet spec) or --class NAME")
    if hardware_id:
        _catalog().hw(hardware_id.lower())
    from profiling.lab import PREFIX, join_command, join_line

    res = PREFIX + (hardware_id.lower() if hardware_id else class_name)
    if not run:
        click.echo(join_line(address, res))
        return
    import subprocess

    sys.exit(subprocess.call(join_command(address, res)))


@main.command()
@requirement_options
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for decision.md, report.html and deploy/.")
@click.option("--format", "fmt", type=click.Choice(["md", "html", "both", "json"], case_sensitive=False),
              default="both", show_default=True, help="md: decision record; html: offline report; json: the plan as data.")
@click.option("--date", "date", default=None, help="The record's date, YYYY-MM-DD (default: --as-of, else today).")
@click.option("--status", "status", default=None, help="The record's status (default proposed, or the spec's).")
@click.option("--standardise", is_flag=True, help="With a fleet: one model for every device class.")
def plan(out_dir, fmt, date, status, standardise, **flags) -> None:
    """Write the plan for the review and the repository: a MADR decision record, an offline HTML report, and
    deploy files for the chosen stack (llama-server, Ollama, vLLM, MLX, bitnet.cpp, Foundry Local, Windows)."""
    from pathlib import Path

    from .lifecycle import parse_date
    from .plan import PLAN_KEYS, write_plan

    raw = _raw(**flags)
    meta = {k: v for k, v in raw.items() if k in PLAN_KEYS}
    if status:
        meta["status"] = status
    day = parse_date(date, "--date").isoformat() if date else None
    if raw.get("fleet") is not None:
        from .plan import write_fleet_plan
        from .plan.fleet import parse_fleet
        from .requirements import build

        classes = parse_fleet(raw["fleet"])
        base = {k: v for k, v in raw.items() if k not in PLAN_KEYS and k != "fleet"}
        build(base)  # the shared requirements are checked before any class
        out = write_fleet_plan(_catalog(), base, classes, out_dir, _user_profiles(), fmt=fmt.lower(), date=day,
                               meta=meta, standardise=standardise)
        nothing = bool(out["fleet"]["summary"]["classes_without_stack"])
    else:
        if standardise:
            from .errors import InputError

            raise InputError("--standardise", "needs a fleet (device classes in the spec)", "--spec FILE with fleet:")
        from .api import resolve

        cat = _catalog()
        req, spec = resolve(cat, raw)
        out = write_plan(cat, req, spec, out_dir, _user_profiles(), fmt=fmt.lower(), date=day, meta=meta)
        nothing = out["chosen"] is None
    if fmt.lower() == "json":
        click.echo(_dump({k: v for k, v in out.items() if k != "stacks"}))
    else:
        for f in out["files"]:
            click.echo(f"written: {Path(out_dir) / f}")
    if nothing:
        sys.exit(3)


def _user_profiles():
    """Profiles measured on this machine by `advisor profile` (none until that has run)."""
    from .api import user_profiles

    return user_profiles()


# --------------------------------------------------------------------------- kb


@main.group()
def kb() -> None:
    """Knowledge-base maintenance."""


@kb.command()
@click.option("--root", type=click.Path(file_okay=False), default=None, help="Knowledge directory (default: the bundled one).")
def validate(root: str | None) -> None:
    """Check the whole knowledge tree; one line per problem, exit 1 if any."""
    from .kb import default_root, validate_tree

    entities, problems, files = validate_tree(root)
    if root and not files and problems and problems[0].message.startswith(("no knowledge files", "knowledge directory")):
        from .errors import InputError

        raise InputError("--root", f"{root} holds no knowledge files" + (f": {problems[0].message}" if problems else ""),
                         "a knowledge folder (models/, runtimes/, quantizations/, hardware/ ... with YAML files)")
    for p in problems:
        click.echo(str(p))
    counts = ", ".join(f"{len(v)} {k}" for k, v in entities.items())
    where = root or default_root()
    if problems:
        click.echo(f"{len(problems)} problem(s) in {where} ({counts})", err=True)
        sys.exit(1)
    click.echo(f"ok: {where} ({counts})", err=True)


def run() -> None:
    """The `advisor` command. Imports and the catalog allocate many long-lived objects and no garbage
    cycles, so the cyclic collector stays off until the catalog is loaded (then on, with those objects
    frozen out of its passes)."""
    import gc

    gc.disable()
    main()


if __name__ == "__main__":  # pragma: no cover
    run()

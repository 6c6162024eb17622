"""The plan as an architecture decision record in MADR 4 form (https://github.com/adr/madr/blob/4.0.0/template/
adr-template.md): front matter (status, date, decision-makers, consulted, informed), then Context and Problem
Statement, Decision Drivers, Considered Options, Decision Outcome (Consequences, Confirmation), Pros and Cons of
the Options, More Information. Every figure carries its basis; the sources close the record."""

from __future__ import annotations

from ..explain import CAPACITY_COLUMNS, INTERCONNECT_NAMES, capacity_cells, change_text, label, roofline_basis, when

DRIVER = {
    "hardware": "run on {v}", "ram": "fit in {v} of memory", "vram": "fit in {v} of GPU memory", "gpu": "run on a {v}",
    "languages": "handle the languages {v}", "lang_strict": "have those languages listed by its card (not a broad claim)",
    "modalities": "take {v} input", "tasks": "do {v}", "context": "hold a context of {v} tokens",
    "min_tps": "decode at least {v} tokens/s", "max_ttft_ms": "give the first token within {v} ms",
    "prompt_tokens": "take prompts of {v} tokens", "license": "carry a licence of {v}", "platform": "run on {v}",
    "runtimes": "run on {v}", "max_download_gb": "download at most {v} GB", "headroom": "leave {v} of memory free",
    "prefer": "favour {v}", "as_of": "be offered on {v}", "bandwidth": "assume {v} GB/s of memory bandwidth",
    "tflops": "assume {v} TFLOP/s", "top": "compare the best {v}", "kv_cache": "keep its KV cache in {v}",
}


def _v(v, key: str = "") -> str:
    if isinstance(v, list):
        return ", ".join(map(str, v))
    return f"{v:.0%}" if key == "headroom" else str(v)


def _stack(r: dict) -> str:
    return f"{r['model']} {r['quantization_name']} on {r['runtime']} ({r['backend']})"


def _figures(r: dict) -> str:
    mem = f"{r['memory_required_gb']:.2f} GB must fit" if r["memory_required_gb"] is not None else "built in"
    tps = (f"{r['decode_tps']:.1f} tokens/s decode (range {r['decode_tps_range'][0]:.1f}-{r['decode_tps_range'][1]:.1f})"
           if r["decode_tps"] else "no speed figure")
    return f"{mem}; {tps}; basis {r['basis']}; quality {r['quality']:.1f}"


RISK = {
    "not_measured": lambda r: (f"The speed figures are {r['basis']}, not measured on the target: run the "
                               "confirmation below before relying on them."),
    "context_extension": lambda r: (f"A context of {r['context']} tokens is beyond the native {r['native']}: it needs "
                                    f"{r.get('method') or 'the documented extension'} (e.g. YaRN rope scaling)."),
    "licence": lambda r: (f"Licence {r['license']}: its terms apply to the use and the outputs"
                          + (f" ({r['source']})" if r.get("source") else "") + "; review them with legal."),
    "lifecycle": lambda r: f"{r['model']} is a platform built-in with a dated life: " + "; ".join(
        f"{e['event']} {when(e['date'])}" + (f" ({e['channel']})" if e.get("channel") else "") for e in r["events"]) + ".",
    "languages_claimed": lambda r: (f"Languages {', '.join(r['languages'])} are not listed by the model card, only "
                                    f"covered by its claim ({r['claim']}): test them."),
    "to_be_made": lambda r: (f"No published file: it is made from {r['from']} with {r['tool']} (commands in "
                             "deploy/); the made file should be checked against the estimate."),
    "size_estimated": lambda r: (f"The file size ({r['bytes'] / 1e9:.2f} GB) is estimated from the shapes; the "
                                 "Hub listing (`advisor artifacts refresh`) gives the exact one."),
}


def render(plan: dict) -> str:
    c = plan["chosen"]
    title = plan["title"] or (f"Use {c['model']} {c['quantization_name']} on {c['runtime']}" if c
                              else "No stack meets the requirements")
    out = _front(plan) + [f"# {title}", "", "## Context and Problem Statement", ""]
    hw = plan["hardware"]
    wants = [DRIVER[k].format(v=_v(v, k)) for k, v in plan["requirements"].items() if k in DRIVER and k != "top"]
    out.append(f"Which small language model, quantization and runtime should run on {hw['name']} "
               f"({hw['memory_gb']:g} GB {hw['memory_kind']}, {hw['bandwidth_gbps']:g} GB/s)? It must: "
               + ("; ".join(wants) if wants else "meet the advisor's defaults") + ".")
    out += [f"- {n}" for n in plan["notes"]]
    out += ["", "## Decision Drivers", ""]
    out += [f"* {DRIVER[k].format(v=_v(v, k))}" for k, v in plan["requirements"].items() if k in DRIVER and k != "top"]
    if not plan["requirements"]:
        out.append("* the advisor's defaults: 8192 tokens of context, 10% memory headroom, quality first")
    out += ["", "## Considered Options", ""]
    out += [f"* {_stack(r)}" for r in plan["options"]]
    out += [f"* {r['model']} {r['quantization_name']} on {r['runtime']} (rejected)" for r in plan["rejected"]]
    out += ["", "## Decision Outcome", ""]
    if c is None:
        out.append("No option meets every requirement. The smallest changes that would unlock one:")
        out += [f"* `{change_text(x)}`" for x in plan["relaxations"]]
    else:
        among = (f"it ranks first of {len(plan['options'])} options that meet every requirement"
                 if len(plan["options"]) > 1 else "it is the only option that meets every requirement")
        out.append(f"Chosen option: \"{_stack(c)}\", because {among}: {_figures(c)}.")
        out += ["", "### Consequences", ""]
        out += [f"* Good, because {w[0].lower() + w[1:]}" for w in c["why"][:3]]
        if c["memory_budget_gb"] and c["memory_required_gb"] is not None:
            usable = c["memory_budget_gb"] * (1 - plan["headroom"])
            out.append(f"* Good, because it needs {c['memory_required_gb']:.2f} GB of the {usable:.2f} GB usable "
                       f"({c['memory_budget_gb']:g} GB less {plan['headroom']:.0%} headroom).")
        out += [f"* Bad, because {RISK[r['kind']](r)[0].lower() + RISK[r['kind']](r)[1:]}" for r in plan["risks"]]
        if plan.get("capacity"):
            out += ["", "### Capacity", ""] + capacity_md(plan["capacity"])
        out += ["", "### Confirmation", ""]
        if c["basis"] == "measured":
            out.append("The figures are measured on this machine (stored profiles); re-run the check on each target:")
        else:
            out.append("Run on the target machine (deploy/verify.sh); it runs the pick with llama.cpp or Transformers, "
                       "stores the measurement and prints PASS/FAIL per requirement:")
        out += ["", "```bash", plan["confirmation"]["command"], "```", "",
                "Without the model file (random weights, the pick's real shapes; speed and memory are the real "
                "model's):", "", "```bash", plan["confirmation"]["synthetic_command"], "```"]
    out += ["", "## Pros and Cons of the Options", ""]
    for r in plan["options"]:
        out += [f"### {_stack(r)}", "", _figures(r), ""]
        out += [f"* Good, because {w[0].lower() + w[1:]}" for w in r["why"][:2]]
        if r is not c:
            out.append(f"* Bad, because it ranks {r['rank']} (score {r['score']:.2f} against {c['score']:.2f}).")
        out.append("")
    for r in plan["rejected"]:
        out += [f"### {r['model']} {r['quantization_name']} on {r['runtime']} (rejected)", ""]
        out += [f"* Bad, because it fails {label(v['constraint'])}: {w}" for v, w in zip(r["violations"], r["why"])]
        out.append("")
    out += ["## More Information", ""]
    out.append("Each figure's basis: measured (run on this machine), calibrated (a run of this machine adjusted the "
               "estimate), estimated (nothing of this machine informed it). Sources:")
    out.append("")
    out += [f"* {s['for']} ({s['key']}, {s['kind']}): {s['ref']}" for s in plan["sources"]]
    return "\n".join(out) + "\n"


def capacity_md(cap: dict) -> list[str]:
    """The serving capacity of a vLLM pick (advisor.serving.plan_layouts) as a Markdown table, with its basis."""
    want = f" at {cap['target_tps']:g} tok/s each" if cap.get("target_tps") else ""
    out = [f"{cap['users']} users{want}, {cap['prompt_tokens']} prompt + {cap['output_tokens']} output tokens each, "
           f"on nodes of {cap['gpus_per_node']} x {cap['gpu']} ({INTERCONNECT_NAMES[cap['interconnect']]}; at most "
           f"{cap['max_gpus']} GPUs), vLLM with "
           f"--max-model-len {cap['max_model_len']}, {cap['bits']:g}-bit weights:", "",
           "| " + " | ".join(CAPACITY_COLUMNS) + " |", "|" + "---|" * len(CAPACITY_COLUMNS)]
    for r in cap["layouts"]:
        cells = capacity_cells(r)
        out.append("| " + " | ".join(cells + [""] * (len(CAPACITY_COLUMNS) - len(cells))) + " |")
    c = cap["chosen"]
    out.append("")
    out.append(f"Deployed: TP {c['tp']} x PP {c['pp']}, {c['replicas']} replica(s), {c['total_gpus']} GPUs (the fewest "
               "that serve the users)." if c else f"No layout within {cap['max_gpus']} GPUs serves the users{want}.")
    out.append(roofline_basis(cap["roofline"]) + ".")
    return out


def _front(plan: dict) -> list[str]:
    out = ["---", f"status: \"{plan['status']}\"", f"date: {plan['date']}"]
    out += [f"{k.replace('_', '-')}: {', '.join(plan[k])}" for k in ("decision_makers", "consulted", "informed")
            if plan[k]]
    return out + ["---", ""]


def _risk(r: dict) -> str:
    t = RISK[r["kind"]](r)
    return t[0].lower() + t[1:]


def _ships(s: dict) -> str:
    m, a = len(s["models"]), len(s["artifacts"])
    return (f"{m} model{'s' * (m != 1)} in {a} file{'s' * (a != 1)}: {s['download_gb']:.2f} GB to download "
            f"once, {s['storage_gb']:.2f} GB stored across the devices")


def render_fleet(plan: dict) -> str:
    """A fleet as one MADR decision: the options are each class its best stack, or one model for all; the
    consequences, the risks and the confirmation are per class; the pros and cons give each class's figures."""
    f = plan["fleet"]
    s = f["summary"]
    classes = f["classes"]
    std = f["standard_model"]
    title = plan["title"] or ("Standardise the fleet on " + std if f["standardised"] and std
                              else "One stack per device class")
    out = _front(plan) + [f"# {title}", "", "## Context and Problem Statement", ""]
    out.append(f"Which model, quantization and runtime should each of {len(classes)} device classes "
               f"({s['devices']} devices) run, and is one model for all of them worth what it costs?")
    out += ["", "## Decision Drivers", ""]
    out += [f"* every class: {DRIVER[k].format(v=_v(v, k))}" for k, v in plan["requirements"].items()
            if k in DRIVER and k != "top"]
    out += [f"* {c['name']} ({c['count']} devices): {c['hardware']}, {c['memory_gb']:g} GB" for c in classes]
    out += ["", "## Considered Options", "", "* each class its best stack"]
    if std:
        out.append(f"* one model for all classes: {std}")
    out += ["", "## Decision Outcome", ""]
    chosen = f"one model for all classes: {std}" if f["standardised"] else "each class its best stack"
    why_ = ("one model to ship, test and support" if f["standardised"] else
            "each class gets the highest quality its hardware allows")
    out.append(f"Chosen option: \"{chosen}\", because {why_}.")
    out += ["", "| class | devices | hardware | stack | memory GB | decode tok/s | basis | quality | given up |",
            "|---|---|---|---|---|---|---|---|---|"]
    for c in classes:
        x = c["chosen"]
        if x is None:
            out.append(f"| {c['name']} | {c['count']} | {c['hardware']} | nothing fits | | | | | |")
            continue
        lost = c["best_quality"] - x["quality"] if c["best_quality"] is not None else 0
        out.append(f"| {c['name']} | {c['count']} | {c['hardware']} | {_stack(x)} | {x['memory_required_gb']} | "
                   f"{x['decode_tps']} | {x['basis']} | {x['quality']:.1f} | {lost:.1f} |")
    out += ["", "### Consequences", ""]
    out.append(f"* Good, because the fleet ships {_ships(s)}.")
    if s["weakest"]:
        w = s["weakest"]
        lim = "; ".join(f"`{change_text(x)}` would unlock {x['unlocks']['model']} {x['unlocks']['quantization']}"
                        for x in w["limits"])
        out.append(f"* Bad, because the weakest class, {w['class']}, runs {w['model']} at quality {w['quality']:.1f}"
                   + (f"; what limits it: {lim}" if lim else "") + ".")
    if s["classes_without_stack"]:
        out.append(f"* Bad, because nothing fits on: {', '.join(s['classes_without_stack'])}.")
    for c in classes:
        x = c["chosen"]
        if x is None:
            continue
        out += ["", f"#### {c['name']} ({c['count']} devices, {c['hardware']})", ""]
        out += [f"* Good, because {w[0].lower() + w[1:]}" for w in x["why"][:2]]
        if x["memory_required_gb"] is not None and c["memory_gb"]:
            usable = c["memory_gb"] * (1 - c["headroom"])
            out.append(f"* Good, because it needs {x['memory_required_gb']:.2f} GB of the {usable:.2f} GB usable "
                       f"({c['memory_gb']:g} GB less {c['headroom']:.0%} headroom).")
        if c["quality_given_up"] and f["standardised"]:
            out.append(f"* Bad, because it gives up {c['quality_given_up']:.1f} quality points against its best, "
                       f"{c['best_model']}.")
        out += [f"* Bad, because {_risk(r)}" for r in c["risks"]]
    out += ["", "### Confirmation", "", "On one device of each class, run its verify script (advisor verify with the "
            "class's requirements; PASS/FAIL per requirement, the measurement stored):", "", "```bash"]
    out += [f"deploy/{c['name']}/verify.sh" for c in classes if c["chosen"]]
    out += ["```", "", "## Pros and Cons of the Options", ""]
    # each option's stacks: the chosen one's are the classes' `chosen`, the other's their `alternative`
    taken = "standard" if f["standardised"] else "best"
    for opt, name in (("best", "each class its best stack"), ("standard", f"one model for all classes: {std}")):
        if opt == "standard" and not std:
            continue
        which = "chosen" if opt == taken else "alternative"
        ship = s if opt == taken else f["alternative_summary"]
        out += [f"### {name}", ""]
        out.append(f"* {'Good' if len(ship['models']) == 1 else 'Bad'}, because the fleet ships {_ships(ship)}.")
        for c in classes:
            x = c[which]
            if x is None:
                out.append(f"* Bad, because nothing fits on {c['name']}.")
                continue
            lost = (c["best_quality"] or 0) - x["quality"]
            verdict = "Good" if lost < 0.05 else "Bad"
            out.append(f"* {verdict}, because {c['name']} runs {_stack(x)} at quality {x['quality']:.1f}"
                       + (f", {lost:.1f} below its best ({c['best_model']})" if lost >= 0.05 else ", its best")
                       + f": {_figures(x)}.")
        out.append("")
    out += ["## More Information", ""]
    out.append("Each figure's basis: measured (run on this machine), calibrated (a run of this machine adjusted the "
               "estimate), estimated (nothing of this machine informed it). Sources:")
    out.append("")
    out += [f"* {x['for']} ({x['key']}, {x['kind']}): {x['ref']}" for x in f.get("sources", [])]
    return "\n".join(out).rstrip() + "\n"

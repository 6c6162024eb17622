"""Charts of the advisor's data as plotly figures, for the web UI and the offline report. Imported only by
front ends that draw (plotly loads with this module); every label comes from advisor.explain."""

from __future__ import annotations

import plotly.graph_objects as go

from .explain import UI, part_label

# one symbol per runtime, in the catalog's order of runtime ids (stable across runs)
SYMBOLS = ("circle", "square", "diamond", "cross", "x", "triangle-up", "triangle-down", "star", "hexagon", "pentagon",
           "triangle-left", "triangle-right", "hourglass", "bowtie")
PARTS = ("weights", "kv_cache", "buffers", "overhead", "encoders")
_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", yanchor="bottom", y=1.02))


def _vline(x: float, text: str, dash: str, position: str) -> tuple[dict, dict]:
    """A vertical line across the plot at x, and its label (shapes are cheaper than add_vline)."""
    return (dict(type="line", xref="x", yref="paper", x0=x, x1=x, y0=0, y1=1, line=dict(color="crimson", dash=dash)),
            dict(xref="x", yref="paper", x=x, y=1, text=text, showarrow=False, yanchor="bottom",
                 xanchor="right" if position == "left" else "left"))


def memory_bar(stacks: list[dict], budget_gb: float | None, headroom: float | None = None) -> go.Figure:
    """Memory of one or more stacks as stacked horizontal bars of their parts (weights, KV cache, buffers,
    overhead, encoders), with the budget (and the budget less the headroom) as vertical lines."""
    names = [f"{s['model']} {s.get('quantization_name') or s['quantization']} {s['runtime']}" for s in stacks]
    data = []
    for part in PARTS:
        xs = [(s.get("memory_breakdown_gb") or {}).get(part, 0.0) for s in stacks]
        if any(xs):
            data.append(dict(type="bar", y=names, x=xs, name=part_label(part), orientation="h",
                             hovertemplate="%{y}: %{x:.2f} GB<extra>" + part_label(part) + "</extra>"))
    shapes, notes = [], []
    if budget_gb:
        for line in ([_vline(budget_gb, UI["budget_line"].format(gb=budget_gb), "solid", "right")]
                     + ([_vline(budget_gb * (1 - headroom), UI["usable_line"].format(gb=budget_gb * (1 - headroom)),
                                "dot", "left")] if headroom else [])):
            shapes.append(line[0])
            notes.append(line[1])
    return go.Figure(data=data, layout=dict(
        barmode="stack", height=170 + 40 * len(stacks), shapes=shapes, annotations=notes,
        xaxis=dict(ticksuffix=" GB"), margin=dict(l=10, r=10, t=60, b=30),
        legend=dict(orientation="h", yanchor="bottom", y=1.15, x=0)))


def pareto(points: list[dict], axis: str = "memory", show_rejected: bool = False,
           runtimes: tuple[str, ...] = ()) -> go.Figure:
    """Quality against memory (axis='memory') or decode speed (axis='speed'): one point per feasible stack
    with a figure on that axis, coloured by family (one trace each), shaped by runtime; the Pareto front as a
    line; rejected stacks in grey when asked."""
    xk, front = ("memory_required_gb", "pareto_memory") if axis == "memory" else ("decode_tps", "pareto_speed")
    order = list(runtimes) or sorted({p["runtime"] for p in points})
    sym = {r: SYMBOLS[i % len(SYMBOLS)] for i, r in enumerate(order)}
    data = []
    if show_rejected:
        rej = [p for p in points if not p["feasible"] and p[xk] is not None]
        data.append(dict(type="scatter", x=[p[xk] for p in rej], y=[p["quality"] for p in rej], mode="markers",
                         name=UI["rejected"],
                         marker=dict(color="lightgrey", size=6, symbol=[sym.get(p["runtime"], "circle") for p in rej]),
                         customdata=[[_stack(p), ", ".join(p["violations"])] for p in rej],
                         hovertemplate="%{customdata[0]}<br>" + UI["hover_fails"] + " %{customdata[1]}<extra></extra>"))
    feas = [p for p in points if p["feasible"] and p[xk] is not None]
    hover = ("%{customdata[0]}<br>" + UI["hover_quality"] + " %{y}<br>" + UI["hover_memory"] + " %{customdata[2]} GB<br>"
             + UI["hover_decode"] + " %{customdata[3]} (%{customdata[1]})<extra></extra>")
    for fam in sorted({p["family"] for p in feas}):
        ps = [p for p in feas if p["family"] == fam]
        data.append(dict(type="scatter", x=[p[xk] for p in ps], y=[p["quality"] for p in ps], mode="markers", name=fam,
                         marker=dict(size=9, symbol=[sym.get(p["runtime"], "circle") for p in ps]),
                         customdata=[[_stack(p), p["basis"] or UI["no_speed"], p["memory_required_gb"], p["decode_tps"]]
                                     for p in ps], hovertemplate=hover))
    fr = sorted((p for p in feas if p[front]), key=lambda p: p[xk])
    if fr:
        data.append(dict(type="scatter", x=[p[xk] for p in fr], y=[p["quality"] for p in fr], mode="lines",
                         name=UI["front"], hoverinfo="skip",
                         line=dict(color="grey", dash="dash", shape="hv" if axis == "memory" else "vh")))
    return go.Figure(data=data, layout=dict(
        xaxis=dict(title=UI["axis_memory"] if axis == "memory" else UI["axis_decode"],
                   type="log" if axis == "speed" else "linear"),
        yaxis=dict(title=UI["axis_quality"]), height=480, **_LAYOUT))


def _stack(p: dict) -> str:
    return f"{p['model']} {p['quantization']} on {p['runtime']} ({p['backend']})"


def context_lines(rows: list[dict], budget_gb: float | None) -> tuple[go.Figure, go.Figure]:
    """(memory against context with the budget as a line, decode speed against context), one line a stack."""
    mem, dec = go.Figure(), go.Figure()
    for name in dict.fromkeys(r["stack"] for r in rows):
        rs = [r for r in rows if r["stack"] == name]
        mem.add_scatter(x=[r["context"] for r in rs], y=[r["memory_required_gb"] for r in rs], mode="lines+markers",
                        name=name)
        dec.add_scatter(x=[r["context"] for r in rs], y=[r["decode_tps"] for r in rs], mode="lines+markers", name=name)
    if budget_gb:
        mem.update_layout(shapes=[dict(type="line", xref="paper", yref="y", x0=0, x1=1, y0=budget_gb, y1=budget_gb,
                                       line=dict(color="crimson"))],
                          annotations=[dict(xref="paper", yref="y", x=1, y=budget_gb, showarrow=False, yanchor="bottom",
                                            xanchor="right", text=UI["budget_line"].format(gb=budget_gb))])
    for f, title in ((mem, UI["axis_memory"]), (dec, UI["axis_decode_full"])):
        f.update_xaxes(type="log", title=UI["axis_context"])
        f.update_layout(yaxis_title=title, height=380, **_LAYOUT)
    return mem, dec


def predicted_measured(rows: list[dict]) -> go.Figure:
    """Predicted (before calibration) against measured decode speed, one trace per runtime, with y = x."""
    rows = [r for r in rows if r["decode_predicted"] is not None]
    fig = go.Figure()
    for rt in sorted({r["runtime"] for r in rows}):
        rs = [r for r in rows if r["runtime"] == rt]
        fig.add_scatter(x=[r["decode_measured"] for r in rs], y=[r["decode_predicted"] for r in rs], mode="markers",
                        name=rt, customdata=[[f"{r['model']} {r['quantization']}", r["hardware"], r["context"]]
                                             for r in rs],
                        hovertemplate="%{customdata[0]}<br>%{customdata[1]}<br>" + UI["axis_context"]
                        + " %{customdata[2]}<br>" + UI["measured"] + " %{x}<br>" + UI["predicted"]
                        + " %{y}<extra></extra>")
    if rows:
        hi = max(max(r["decode_measured"], r["decode_predicted"]) for r in rows) * 1.1
        fig.add_scatter(x=[0, hi], y=[0, hi], mode="lines", name="y = x", line=dict(color="grey", dash="dot"),
                        hoverinfo="skip")
    fig.update_layout(xaxis_title=UI["axis_decode_measured"], yaxis_title=UI["axis_decode_predicted"], height=480,
                      **_LAYOUT)
    return fig


def fleet_quality(classes: list[dict]) -> go.Figure:
    """Each device class's quality: the best its hardware allows beside the stack chosen (with one model for all,
    the gap is what the class gives up)."""
    names = [c["name"] for c in classes]
    return go.Figure(data=[
        dict(type="bar", x=names, y=[c["best_quality"] for c in classes], name=UI["fleet_best"]),
        dict(type="bar", x=names, y=[c["chosen"]["quality"] if c["chosen"] else None for c in classes],
             name=UI["fleet_chosen"]),
    ], layout=dict(barmode="group", yaxis=dict(title=UI["axis_quality"]), height=380, **_LAYOUT))


def fleet_memory(classes: list[dict]) -> go.Figure:
    """Each class's chosen stack's memory, by part, against the class's usable budget (a marker per class)."""
    names = [c["name"] for c in classes]
    data = []
    for part in PARTS:
        xs = [((c["chosen"] or {}).get("memory_breakdown_gb") or {}).get(part, 0.0) for c in classes]
        if any(xs):
            data.append(dict(type="bar", x=names, y=xs, name=part_label(part),
                             hovertemplate="%{x}: %{y:.2f} GB<extra>" + part_label(part) + "</extra>"))
    data.append(dict(type="scatter", mode="markers", x=names, name=UI["fleet_usable"],
                     y=[c["memory_gb"] * (1 - c["headroom"]) if c["memory_gb"] else None for c in classes],
                     marker=dict(symbol="line-ew-open", size=40, color="crimson", line=dict(width=3))))
    return go.Figure(data=data, layout=dict(barmode="stack", yaxis=dict(title=UI["axis_memory"]), height=380,
                                            **_LAYOUT))

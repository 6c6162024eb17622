"""The plan as one self-contained HTML page that works offline: plotly's JavaScript embedded once (no CDN, no
request), the decision, the options, the risks, the confirmation, and the charts (Pareto front, each option's
memory against the budget, decode speed and memory against context)."""

from __future__ import annotations

import html

from .record import RISK, _figures, _stack

CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.45}
table{border-collapse:collapse;width:100%;font-size:.92em}td,th{border:1px solid #8884;padding:.3em .5em;text-align:left}
code,pre{background:#8882;padding:.1em .3em;border-radius:3px}pre{padding:.6em;overflow-x:auto}
.badge{border-radius:.6em;padding:.05em .5em;font-size:.85em;background:#f9a82533}
@media (prefers-color-scheme: dark){body{background:#111;color:#ddd}a{color:#8ab4f8}}"""


def _e(x) -> str:
    return html.escape(str(x))


def render(plan: dict, sweep: list[dict]) -> str:
    import plotly.offline

    from ..figures import context_lines, memory_bar, pareto

    c = plan["chosen"]
    cfg = {"displaylogo": False, "responsive": True}

    def fig(f, div: str) -> str:
        return f.to_html(full_html=False, include_plotlyjs=False, div_id=div, config=cfg)

    title = plan["title"] or (f"Use {c['model']} {c['quantization_name']} on {c['runtime']}" if c
                              else "No stack meets the requirements")
    parts = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{_e(title)}</title>",
             f"<style>{CSS}</style><script>{plotly.offline.get_plotlyjs()}</script></head><body>",
             f"<h1>{_e(title)}</h1>",
             f"<p>Status <b>{_e(plan['status'])}</b>, {_e(plan['date'])}"
             + "".join(f"; {_e(k.replace('_', ' '))}: {_e(', '.join(plan[k]))}"
                       for k in ("decision_makers", "consulted", "informed") if plan[k]) + "</p>"]
    hw = plan["hardware"]
    parts.append(f"<h2>Context</h2><p>{_e(hw['name'])}: {hw['memory_gb']:g} GB {_e(hw['memory_kind'])}, "
                 f"{hw['bandwidth_gbps']:g} GB/s.</p><pre>{_e(_spec_text(plan['requirements']))}</pre>")
    if c:
        parts.append(f"<h2>Decision</h2><p>Chosen option: <b>{_e(_stack(c))}</b>: {_e(_figures(c))} "
                     f"<span class=badge>{_e(c['basis'])}</span></p><ul>"
                     + "".join(f"<li>{_e(w)}</li>" for w in c["why"]) + "</ul>")
        parts.append("<h3>Risks</h3><ul>" + "".join(f"<li>{_e(RISK[r['kind']](r))}</li>" for r in plan["risks"])
                     + "</ul>")
        if plan.get("capacity"):
            from markdown_it import MarkdownIt

            from .record import capacity_md

            parts.append("<h3>Capacity</h3>" + MarkdownIt("commonmark").enable("table").render(
                "\n".join(capacity_md(plan["capacity"]))))
        parts.append(f"<h3>Confirmation</h3><pre>{_e(plan['confirmation']['command'])}\n"
                     f"{_e(plan['confirmation']['synthetic_command'])}</pre>")
    else:
        parts.append("<h2>Decision</h2><p>No option meets every requirement.</p>")
    parts.append("<h2>Options</h2><table><tr><th>rank</th><th>stack</th><th>memory GB</th><th>decode tok/s</th>"
                 "<th>basis</th><th>quality</th><th>licence</th></tr>"
                 + "".join(f"<tr><td>{r['rank']}</td><td>{_e(_stack(r))}</td><td>{r['memory_required_gb']}</td>"
                           f"<td>{r['decode_tps']}</td><td>{_e(r['basis'])}</td><td>{r['quality']}</td>"
                           f"<td>{_e(r['license'])}</td></tr>" for r in plan["options"]) + "</table>")
    if plan["rejected"]:
        parts.append("<h3>Rejected</h3><ul>" + "".join(
            f"<li><b>{_e(r['model'])} {_e(r['quantization_name'])} on {_e(r['runtime'])}</b>: {_e('; '.join(r['why']))}"
            "</li>" for r in plan["rejected"]) + "</ul>")
    parts.append("<h2>Trade-offs</h2>" + fig(pareto(plan["stacks"], "memory", not c), "pareto"))
    with_mem = [r for r in plan["options"] if r.get("memory_breakdown_gb")]
    if with_mem:
        parts.append("<h2>Memory of each option</h2>"
                     + fig(memory_bar(with_mem, hw["memory_gb"], plan["headroom"]), "memory"))
    if sweep:
        mem, dec = context_lines(sweep, hw["memory_gb"])
        parts.append("<h2>Memory and decode speed against context</h2>" + fig(mem, "memory-context")
                     + fig(dec, "decode-context"))
    parts.append("<h2>Sources</h2><ul>" + "".join(
        f"<li>{_e(s['for'])} ({_e(s['key'])}, {_e(s['kind'])}): " + (f"<a href=\"{_e(s['ref'])}\">{_e(s['ref'])}</a>"
                                                                     if s["ref"].startswith("http") else _e(s["ref"]))
        + "</li>" for s in plan["sources"]) + "</ul></body></html>")
    return "\n".join(parts)


def _spec_text(spec: dict) -> str:
    import yaml

    return yaml.safe_dump(spec, sort_keys=False, allow_unicode=True) if spec else "(the defaults)"


def render_fleet(plan: dict) -> str:
    """The fleet decision as one offline page: the decision record itself (rendered from the same Markdown, so
    the page and decision.md say the same), with a chart of each class's quality (its best against the stack
    chosen: the cost of standardising) and one of each class's memory against its usable budget."""
    import plotly.offline
    from markdown_it import MarkdownIt

    from ..figures import fleet_memory, fleet_quality
    from .record import render_fleet as record

    f = plan["fleet"]
    md = record(plan).split("---\n", 2)[-1]  # the front matter becomes the status line
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(md)
    cfg = {"displaylogo": False, "responsive": True}
    charts = ("<h2>Charts</h2>"
              + fleet_quality(f["classes"]).to_html(full_html=False, include_plotlyjs=False, div_id="fleet-quality",
                                                    config=cfg)
              + fleet_memory(f["classes"]).to_html(full_html=False, include_plotlyjs=False, div_id="fleet-memory",
                                                   config=cfg))
    status = (f"<p>Status <b>{_e(plan['status'])}</b>, {_e(plan['date'])}"
              + "".join(f"; {_e(k.replace('_', ' '))}: {_e(', '.join(plan[k]))}"
                        for k in ("decision_makers", "consulted", "informed") if plan[k]) + "</p>")
    body = body.replace("</h1>", "</h1>" + status, 1)
    cut = body.find("<h2>Pros and Cons of the Options</h2>")
    body = body[:cut] + charts + body[cut:] if cut >= 0 else body + charts
    return "\n".join([
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{_e(plan.get('title') or 'Fleet plan')}</title>",
        f"<style>{CSS}</style><script>{plotly.offline.get_plotlyjs()}</script></head><body>",
        body, "</body></html>"])

"""Recommend: the top pick, the ranked table, the Pareto chart, the nearest misses, relaxations, export."""

import json

import streamlit as st

from advisor.artifacts import artifact_url
from advisor.explain import UI as W, basis_badge, change_text, violation_text
from advisor.figures import memory_bar, pareto
from advisor.report import render_markdown
from advisor.requirements import apply_change, spec_yaml
from ui import common

st.title(W["page_recommend"])
got = common.recommendation()
if got is not None:
    raw, req, rep = got
    hw = rep["hardware"]
    st.caption(W["hardware_line"].format(name=hw["name"], gb=hw["memory_gb"] or 0, kind=hw["memory_kind"],
                                         bw=hw["bandwidth_gbps"]))
    for n in rep["notes"]:
        st.caption(n)
    recs = rep["recommendations"]
    if recs:
        top = recs[0]
        with st.container(border=True, key="top_pick"):
            st.subheader(W["top_pick"].format(model=top["model"], quant=top["quantization_name"],
                                              runtime=top["runtime"], backend=top["backend"]))
            c = st.columns(4)
            mem = top["memory_required_gb"]
            c[0].metric(W["memory"], f"{mem:.2f} GB" if mem is not None else W["built_in"])
            if top["decode_tps"]:
                lo, hi = top["decode_tps_range"]
                c[1].metric(W["decode"], f"{top['decode_tps']:.1f} tok/s", W["range"].format(lo=lo, hi=hi),
                            delta_color="off", delta_arrow="off")
            else:
                c[1].metric(W["decode"], W["no_speed"])
            c[2].metric(W["ttft"], f"{top['ttft_ms'] / 1000:.1f} s" if top["ttft_ms"] else "-",
                        W["prefill"].format(tps=top["prefill_tps"]) if top["prefill_tps"] else None,
                        delta_color="off", delta_arrow="off")
            c[3].metric(W["quality"], f"{top['quality']:.1f}")
            st.markdown(basis_badge(top["basis"]) + "  " + W["licence_line"].format(licence=top["license"]))
            if top["memory_breakdown_gb"]:
                st.plotly_chart(memory_bar([top], top["memory_budget_gb"], req.headroom), key="top_memory")
            for w in top["why"]:
                st.markdown(f"- {w}")
        rows = [{W["col_model"]: r["model"], W["col_quant"]: r["quantization_name"],
                 W["col_runtime"]: f"{r['runtime']} ({r['backend']})",
                 W["col_memory"]: r["memory_required_gb"],
                 W["col_share"]: (r["memory_required_gb"] / r["memory_budget_gb"]) if r["memory_required_gb"]
                 and r["memory_budget_gb"] else None,
                 W["col_decode"]: r["decode_tps"], W["col_basis"]: r["basis"], W["col_quality"]: r["quality"],
                 W["col_artifact"]: artifact_url(r["artifact"], r["hf_repo"])}
                for r in recs]
        st.subheader(W["ranked"])
        st.dataframe(rows, key="ranked", hide_index=True, width="stretch", column_config={
            W["col_share"]: st.column_config.ProgressColumn(W["col_share"], min_value=0.0, max_value=1.0,
                                                            format="percent", width="small"),
            W["col_memory"]: st.column_config.NumberColumn(format="%.2f GB", width="small"),
            W["col_decode"]: st.column_config.NumberColumn(format="%.1f", width="small"),
            W["col_quality"]: st.column_config.NumberColumn(width="small"),
            W["col_basis"]: st.column_config.TextColumn(width="small"),
            W["col_artifact"]: st.column_config.LinkColumn(display_text=W["artifact_link"], width="small"),
        })
    else:
        st.warning(W["nothing_fits"])
    if rep["relaxations"]:
        st.subheader(W["relaxations"])
        for i, x in enumerate(rep["relaxations"]):
            u = x["unlocks"]
            st.button(W["relax_button"].format(change=change_text(x), model=u["model"], quant=u["quantization"],
                                               runtime=u["runtime"]), key=f"relax_{i}",
                      on_click=common.set_state, args=(apply_change(raw, x),))
    st.subheader(W["pareto"])
    c1, c2 = st.columns(2)
    axis = c1.radio(W["pareto_axis"], ("memory", "speed"), key="pareto_axis", horizontal=True,
                    format_func=lambda a: W["axis_" + a])
    pts = rep["stacks"]
    show_rej = c2.toggle(W["show_rejected"], key="pareto_rejected") or not any(p["feasible"] for p in pts)
    xk = "memory_required_gb" if axis == "memory" else "decode_tps"
    missing = sum(1 for p in pts if p["feasible"] and p[xk] is None)
    st.plotly_chart(pareto(pts, axis, show_rej, tuple(sorted(common.catalog().runtimes))), key="pareto_chart")
    st.caption(W["pareto_caption"].format(n=sum(p["feasible"] for p in pts), total=len(pts), missing=missing))
    if rep["rejected"]:
        st.subheader(W["misses"])
        st.dataframe([{W["col_stack"]: f"{r['model']} {r['quantization_name']} {r['runtime']}",
                       W["col_constraint"]: violation_text(v)[0], W["col_required"]: violation_text(v)[1],
                       W["col_actual"]: violation_text(v)[2]}
                      for r in rep["rejected"] for v in r["violations"]], key="misses", hide_index=True,
                     width="stretch")
        with st.expander(W["misses_why"]):
            for r in rep["rejected"]:
                st.markdown(f"- **{r['model']} {r['quantization_name']} {r['runtime']}**: " + "; ".join(r["why"]))
    st.subheader(W["export"])
    c = st.columns(3)
    c[0].download_button(W["export_spec"], spec_yaml(req), "requirements.yaml", "application/yaml",
                         key="dl_spec")
    c[1].download_button(W["export_json"], json.dumps({k: v for k, v in rep.items() if k != "stacks"}, indent=2,
                                                      ensure_ascii=False), "recommendation.json",
                         "application/json", key="dl_json")
    c[2].download_button(W["export_md"], render_markdown(rep), "recommendation.md", "text/markdown", key="dl_md")
    st.code(W["cli_equivalent"].format(spec=spec_yaml(req)), language="yaml")

"""Compare: two to four stacks side by side, memory parts and how memory and decode speed grow with context."""

import streamlit as st

from advisor.explain import UI as W
from advisor.figures import context_lines, memory_bar
from ui import common

st.title(W["page_compare"])
got = common.recommendation()
if got is not None:
    raw, req, rep = got
    feas = [p for p in rep["stacks"] if p["feasible"]]
    names = {f"{p['model']} {p['quantization']} {p['runtime']}": p for p in feas}
    default = [k for k in (f"{r['model']} {r['quantization']} {r['runtime']}" for r in rep["recommendations"][:2])
               if k in names]
    st.session_state.setdefault("compare_stacks", default)
    st.session_state.compare_stacks = [k for k in st.session_state.compare_stacks if k in names]
    picked = st.multiselect(W["pick_stacks"], list(names), key="compare_stacks", max_selections=4)
    if len(picked) < 2:
        st.info(W["pick_two"])
    if picked:
        chosen = tuple((names[k]["model"], names[k]["quantization"], names[k]["runtime"]) for k in picked)
        rows = common.run(common.sweep, common.normalised(req), chosen) or []
        cols = st.columns(len(picked))
        for col, k in zip(cols, picked):
            p = names[k]
            with col.container(border=True):
                st.markdown(f"**{k}**")
                st.metric(W["memory"], f"{p['memory_required_gb']:.2f} GB" if p["memory_required_gb"] else W["built_in"])
                st.metric(W["decode"], f"{p['decode_tps']:.1f} tok/s" if p["decode_tps"] else W["no_speed"])
                st.metric(W["quality"], f"{p['quality']:.1f}")
        details = common.run(common.stack_details, common.normalised(req), chosen) or []
        if details:
            st.plotly_chart(memory_bar(details, rep["hardware"]["memory_gb"], req.headroom), key="compare_memory")
        if rows:
            mem, dec = context_lines(rows, rep["hardware"]["memory_gb"])
            c1, c2 = st.columns(2)
            c1.plotly_chart(mem, key="compare_mem_ctx")
            c2.plotly_chart(dec, key="compare_dec_ctx")
            st.caption(W["sweep_caption"])

"""Why: one model's fate under the sidebar's requirements, as `advisor why` gives it."""

import streamlit as st

from advisor.explain import UI as W, basis_badge, label
from ui import common

st.title(W["page_why"])
cat = common.catalog()
got = common.requirements()
if got is not None and "why_model" not in st.session_state:  # the top pick of the requirements to start with
    rep = common.run(common.recommend, common.normalised(got[1]))
    if rep and rep["recommendations"]:
        st.session_state.why_model = rep["recommendations"][0]["model"]
model = st.selectbox(W["pick_model"], sorted(cat.models), key="why_model", format_func=lambda i: f"{cat.models[i].name} ({i})")
if got is not None and model:
    raw, req = got
    rep = common.run(common.why, common.normalised(req), model)
    if rep is not None:
        st.subheader(W["verdict"].format(model=rep["model"], verdict=rep["verdict"]))
        for w in rep["why"]:
            st.markdown(f"- {w}")
        if rep.get("needs"):
            st.markdown(W["needs"] + " " + ", ".join(f"`{n['change']}`" for n in rep["needs"]))
        if rep["stacks"]:
            st.dataframe([{W["col_quant"]: s["quantization_name"], W["col_runtime"]: s["runtime"],
                           W["col_backend"]: s["backend"], W["col_memory"]: s["memory_required_gb"],
                           W["col_decode"]: s["decode_tps"], W["col_basis"]: s["basis"], W["col_score"]: s["score"],
                           W["col_verdict"]: W["fits"] if s["feasible"] else
                           W["fails"] + " " + ", ".join(label(v["constraint"]) for v in s["violations"])}
                          for s in rep["stacks"]], key="why_stacks", hide_index=True, width="stretch")
            best = rep.get("best")
            if best:
                st.markdown(basis_badge(best["basis"]))
                for w in best["why"]:
                    st.markdown(f"- {w}")

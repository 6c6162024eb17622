"""Profiles and verify: stored measured runs, predicted against measured, and a run of a chosen stack here
(random weights of its real shapes) checked as `advisor verify` checks it."""

import importlib.util

import streamlit as st

from advisor.explain import UI as W, check_rows
from advisor.figures import predicted_measured
from ui import common

st.title(W["page_profiles"])
cat = common.catalog()


@st.cache_data(show_spinner=False)
def comparison(n_user: int) -> list[dict]:
    """Each stored run beside its prediction before calibration (advisor.report.profile_comparison)."""
    from advisor.api import user_profiles
    from advisor.report import profile_comparison

    return profile_comparison(cat, list(cat.profiles.values()) + list(user_profiles()))


from advisor.store import list_profiles  # noqa: E402

mine = list_profiles()
rows = comparison(len(mine))
st.subheader(W["stored_profiles"])
st.caption(W["profiles_count"].format(shipped=len(cat.profiles), mine=len(mine)))
st.dataframe([{W["col_model"]: r["model"], W["col_quant"]: r["quantization"], W["col_runtime"]: r["runtime"],
               W["col_backend"]: r["backend"], W["col_hardware"]: r["hardware"], W["col_threads"]: r["threads"],
               W["context"]: r["context"], W["col_decode_measured"]: r["decode_measured"],
               W["col_decode_predicted"]: r["decode_predicted"], W["col_memory_measured"]: r["memory_measured_gb"],
               W["col_memory_predicted"]: r["memory_predicted_gb"], W["col_skipped"]: r["skipped"]} for r in rows],
             key="profiles_table", hide_index=True, width="stretch")
st.plotly_chart(predicted_measured(rows), key="profiles_scatter")
st.caption(W["profiles_caption"])

st.subheader(W["verify_here"])
if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("gguf") is None:
    st.info(W["needs_profile_extra"])
else:
    got = common.requirements()
    if got is not None:
        raw, req = got
        rep = common.run(common.recommend, common.normalised(req))
        if rep is not None:
            runnable = [p for p in rep["stacks"] if p["feasible"] and p["runtime"] in ("llama.cpp", "ollama")
                        and p["backend"] == "cpu"]
            names = {f"{p['model']} {p['quantization']} {p['runtime']}": p for p in runnable}
            pick = st.selectbox(W["pick_stack"], list(names), key="verify_stack", index=0 if names else None)
            c = st.columns(3)
            gen = c[0].number_input(W["gen_tokens"], 8, 512, 32, step=8, key="verify_gen")
            repeats = c[1].number_input(W["repeats"], 1, 10, 2, key="verify_repeats")
            fill = c[2].checkbox(W["fill"], value=False, key="verify_fill")
            if pick and st.button(W["run_verify"], key="verify_run", type="primary"):
                p = names[pick]
                from advisor.api import resolve, user_profiles
                from advisor.errors import AdvisorError
                from profiling.verify import verify

                with st.status(W["verify_running"].format(stack=pick), expanded=True) as status:
                    try:
                        _, spec = resolve(cat, raw)
                        out = verify(cat, req, spec, synthetic=True, file=None, gen_tokens=int(gen),
                                     repeats=int(repeats), threads=None, fill=fill, force=False, profiles_dir=None,
                                     user_profiles=user_profiles(), announce=status.write,
                                     stack=(p["model"], p["quantization"], p["runtime"]))
                    except AdvisorError as e:
                        status.update(label=str(e), state="error")
                        st.error(str(e))
                        out = None
                    else:
                        status.update(label=W["verify_done"].format(path=out.profile_path), state="complete")
                if out is not None:
                    st.session_state["verify_result"] = out.as_dict()
                    st.cache_data.clear()  # the new run informs later estimates of this machine
            res = st.session_state.get("verify_result")
            if res:
                st.dataframe(check_rows(res["checks"]), key="verify_checks", hide_index=True, width="stretch")
                for n in res["notes"]:
                    st.caption(n)
                (st.success if res["result"] == "PASS" else st.error)(W[res["result"].lower()])

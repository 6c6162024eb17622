"""Catalog: filterable tables of models, quantizations, runtimes, hardware and GPUs; a model's every fact with
its source, and the course's claims the primary sources correct."""

import streamlit as st

from advisor.explain import UI as W
from advisor.views import accelerator_record, hardware_record, model_facts
from ui import common

st.title(W["page_catalog"])
cat = common.catalog()
tabs = st.tabs([W["tab_models"], W["tab_quants"], W["tab_runtimes"], W["tab_hardware"], W["tab_gpus"]])
with tabs[0]:
    c = st.columns(4)
    text = c[0].text_input(W["filter_text"], key="cat_search")
    fams = c[1].multiselect(W["filter_family"], sorted(cat.families), key="cat_family")
    mods = c[2].multiselect(W["modalities"], ["text", "image", "audio", "video"], key="cat_modality")
    lics = c[3].multiselect(W["license"], sorted({m.license for m in cat.models.values()}), key="cat_license")
    rows = []
    for i, m in sorted(cat.models.items()):
        if text and text.casefold() not in f"{i} {m.name}".casefold():
            continue
        if fams and m.family not in fams or lics and m.license not in lics:
            continue
        if mods and not set(mods) <= set(m.modalities_in):
            continue
        a = m.architecture
        rows.append({"id": i, W["col_family"]: m.family, W["col_params"]: m.params_b,
                     W["col_active"]: m.active_params_b, W["context"]: a.context_length if a else None,
                     W["modalities"]: ", ".join(m.modalities_in), W["col_languages"]: len(m.languages) or None,
                     W["col_licence"]: m.license, W["col_availability"]: m.availability,
                     W["col_repo"]: f"https://huggingface.co/{m.hf_repo}" if m.hf_repo else None})
    st.caption(W["models_count"].format(n=len(rows), total=len(cat.models)))
    st.dataframe(rows, key="cat_models", hide_index=True, width="stretch",
                 column_config={W["col_repo"]: st.column_config.LinkColumn(display_text=W["hub_link"])})
    mid = st.selectbox(W["model_view"], [r["id"] for r in rows], key="cat_model", index=None,
                       placeholder=W["pick_model"])
    if mid:
        m = cat.model(mid)
        st.subheader(f"{m.name} ({mid})")
        st.dataframe([{W["col_field"]: f, W["col_value"]: v, W["col_source"]: ", ".join(s)} for f, v, s in model_facts(m)],
                     key="cat_facts", hide_index=True, width="stretch")
        st.markdown("**" + W["sources"] + "**")
        st.dataframe([{W["col_key"]: k, W["col_kind"]: s.kind, W["col_ref"]: s.ref, W["col_note"]: s.note}
                      for k, s in sorted(m.sources.items())], key="cat_sources", hide_index=True, width="stretch",
                     column_config={W["col_ref"]: st.column_config.LinkColumn()})
        if m.corrections:
            st.markdown("**" + W["corrections"] + "**")
            st.dataframe([{W["col_field"]: x.field, W["col_course"]: x.course_says, W["col_primary"]: x.primary_says,
                           W["col_source"]: x.source} for x in m.corrections], key="cat_corrections",
                         hide_index=True, width="stretch")
        for n in m.notes:
            st.caption(n)
with tabs[1]:
    st.dataframe([{"id": i, W["col_name"]: q.name, W["col_format"]: q.format, W["col_bits"]: q.bits_per_weight,
                   W["runtimes"]: ", ".join(r for r, rt in cat.runtimes.items() if i in rt.quantizations)}
                  for i, q in cat.quantizations.items()], key="cat_quants", hide_index=True, width="stretch")
with tabs[2]:
    st.dataframe([{"id": i, W["col_name"]: r.name, W["col_kind"]: r.kind, W["col_format"]: ", ".join(r.formats),
                   W["col_backend"]: ", ".join(r.backends), W["platform"]: ", ".join(r.platforms)}
                  for i, r in cat.runtimes.items()], key="cat_runtimes", hide_index=True, width="stretch")
with tabs[3]:
    st.dataframe([{k: v for k, v in hardware_record(i, h).items() if not isinstance(v, (dict, list)) or k == "backends"}
                  for i, h in sorted(cat.hardware.items())], key="cat_hardware", hide_index=True, width="stretch")
with tabs[4]:
    st.dataframe([{k: v for k, v in accelerator_record(i, a).items() if not isinstance(v, dict)}
                  for i, a in sorted(cat.accelerators.items())], key="cat_gpus", hide_index=True, width="stretch")

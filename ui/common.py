"""What every page shares: the catalog (loaded once), the requirements sidebar, its state in the URL, and
the cached results. Layout only: values go to advisor.api / advisor.report, words come from advisor.explain."""

from __future__ import annotations

import datetime
import json
from typing import Any

import streamlit as st

from advisor.errors import AdvisorError
from advisor.explain import UI as W

CONTEXTS = (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072)
MODES = ("this", "profile", "custom")
# widget key -> its value when nothing is set (the CLI's defaults)
DEFAULTS: dict[str, Any] = {
    "req_hw_mode": "this", "req_hardware": None, "req_ram": None, "req_vram": None, "req_bandwidth": None,
    "req_gpu": None, "req_tflops": None, "req_lang": [], "req_lang_strict": False, "req_modality": [], "req_task": [],
    "req_context": 8192, "req_min_tps": None, "req_max_ttft": None, "req_prompt_tokens": 512, "req_license": [],
    "req_platform": None, "req_runtimes": [], "req_max_download": None, "req_headroom": 0.10, "req_prefer": "quality",
    "req_top": 3, "req_as_of": None, "req_kv_cache": "f16", "req_users": 1, "req_rate": None,
    "req_output_tokens": 256, "req_gpus": 1, "req_interconnect": None,
}


@st.cache_resource(show_spinner=False)
def catalog():
    """The validated knowledge base, loaded once per server process and never mutated."""
    from advisor.kb import load_catalog

    return load_catalog()


@st.cache_resource(show_spinner=False)
def language_options() -> dict[str, str]:
    """code -> 'sv: Swedish (svenska)': the multiselect searches these labels, so a name finds its code."""
    from advisor.iso639 import names

    out = {}
    for code, (en, native) in names().items():
        out[code] = f"{code}: {en}" + (f" ({native})" if native and native.casefold() != en.casefold() else "")
    return out


def init_state() -> None:
    """Defaults first, then the URL's requirements once per session (a pasted link restores them)."""
    for k, v in DEFAULTS.items():
        st.session_state.setdefault(k, v)
    if not st.session_state.get("_url_read"):
        st.session_state["_url_read"] = True
        qp = {k: v for k, v in st.query_params.to_dict().items()}
        if qp:
            from advisor.requirements import SPEC_KEYS

            raw = {SPEC_KEYS[k]: v for k, v in qp.items() if k in SPEC_KEYS}
            try:
                set_state(raw)
            except AdvisorError as e:
                st.session_state["_load_error"] = str(e)


def set_state(raw: dict[str, Any]) -> None:
    """Put raw requirement values (a spec, a URL, a relaxation) into the sidebar's widgets. Checks them first
    (advisor.requirements.build): bad values raise InputError and change nothing."""
    from advisor.requirements import build, check_ids

    req = build(raw)
    cat = catalog()
    check_ids(req, cat)
    new = dict(DEFAULTS)
    if req.hardware:
        new.update(req_hw_mode="profile", req_hardware=req.hardware)
        cat.hw(req.hardware)
    elif req.ram_gb or req.vram_gb or req.bandwidth_gbps or req.gpu or req.tflops:
        from advisor.estimate import find_accelerator

        gpu = find_accelerator(cat, req.gpu)[0] if req.gpu else None
        new.update(req_hw_mode="custom", req_ram=req.ram_gb, req_vram=req.vram_gb, req_bandwidth=req.bandwidth_gbps,
                   req_gpu=gpu, req_tflops=req.tflops, req_gpus=req.gpus or 1, req_interconnect=req.interconnect)
    new.update(req_lang=list(req.languages), req_lang_strict=req.lang_strict, req_modality=list(req.modalities),
               req_task=list(req.tasks), req_context=req.context, req_min_tps=req.min_tps,
               req_max_ttft=req.max_ttft_ms, req_prompt_tokens=req.prompt_tokens,
               req_license=[x for x in req.license if x != "any"], req_platform=req.platform,
               req_runtimes=list(req.runtimes), req_max_download=req.max_download_gb, req_headroom=req.headroom,
               req_prefer=req.prefer, req_top=req.top, req_kv_cache=req.kv_cache, req_users=req.concurrent_users,
               req_rate=req.requests_per_s, req_output_tokens=req.output_tokens,
               req_as_of=datetime.date.fromisoformat(req.as_of) if req.as_of else None)
    if raw.get("context") is None and req.hardware and cat.hw(req.hardware).kind == "phone":
        from advisor.requirements import PHONE_CONTEXT

        new["req_context"] = PHONE_CONTEXT  # the CLI's default on phones
    for k, v in new.items():
        st.session_state[k] = v


def raw_requirements() -> dict[str, Any]:
    """The sidebar's values as raw requirements (the keys of advisor.requirements.build)."""
    s = st.session_state
    raw: dict[str, Any] = {}
    if s.req_hw_mode == "profile" and s.req_hardware:
        raw["hardware"] = s.req_hardware
    elif s.req_hw_mode == "custom":
        for key, wk in (("ram_gb", "req_ram"), ("vram_gb", "req_vram"), ("bandwidth_gbps", "req_bandwidth"),
                        ("tflops", "req_tflops"), ("gpu", "req_gpu")):
            if s[wk]:
                raw[key] = s[wk]
        if s.req_gpus and s.req_gpus > 1 and (s.req_gpu or s.req_vram):
            raw["gpus"] = s.req_gpus
            if s.req_interconnect:
                raw["interconnect"] = s.req_interconnect
    raw.update(languages=list(s.req_lang), modalities=list(s.req_modality), tasks=list(s.req_task),
               context=s.req_context, prompt_tokens=s.req_prompt_tokens, license=list(s.req_license) or None,
               runtimes=list(s.req_runtimes), headroom=s.req_headroom, prefer=s.req_prefer, top=s.req_top,
               lang_strict=s.req_lang_strict, kv_cache=s.req_kv_cache, concurrent_users=s.req_users,
               output_tokens=s.req_output_tokens)
    if s.req_rate:
        raw["requests_per_s"] = s.req_rate
    for key, wk in (("min_tps", "req_min_tps"), ("max_ttft_ms", "req_max_ttft"), ("max_download_gb", "req_max_download"),
                    ("platform", "req_platform")):
        if s[wk] is not None:
            raw[key] = s[wk]
    if s.req_as_of:
        raw["as_of"] = s.req_as_of.isoformat()
    return raw


def _upload() -> None:
    """A spec file uploaded in the sidebar fills it (once per file)."""
    f = st.session_state.get("spec_upload")
    if f is None or st.session_state.get("_spec_file") == f.file_id:
        return
    st.session_state["_spec_file"] = f.file_id
    from advisor.requirements import parse_spec

    try:
        set_state(parse_spec(f.getvalue().decode("utf-8", errors="replace"), f.name))
        st.session_state.pop("_load_error", None)
    except AdvisorError as e:
        st.session_state["_load_error"] = str(e)


def _phone_context() -> None:
    """A phone profile brings the CLI's phone default context (4096) while the context is the default."""
    from advisor.requirements import DEFAULT_CONTEXT, PHONE_CONTEXT

    hw = catalog().hardware.get(st.session_state.req_hardware)
    if hw is not None and hw.kind == "phone" and st.session_state.req_context == DEFAULT_CONTEXT:
        st.session_state.req_context = PHONE_CONTEXT


def sidebar() -> None:
    """The requirements, as the CLI's flags take them."""
    cat = catalog()
    sb = st.sidebar
    sb.file_uploader(W["upload_spec"], type=["yaml", "yml"], key="spec_upload", on_change=_upload,
                     help=W["upload_spec_help"])
    sb.radio(W["hardware"], MODES, key="req_hw_mode", format_func=lambda m: W["hw_mode_" + m], horizontal=True)
    mode = st.session_state.req_hw_mode
    if mode == "profile":
        ids = sorted(cat.hardware)
        if st.session_state.req_hardware not in ids:
            st.session_state.req_hardware = ids[0]
        sb.selectbox(W["hardware_profile"], ids, key="req_hardware", on_change=_phone_context,
                     format_func=lambda i: f"{cat.hardware[i].name} ({i})")
    elif mode == "custom":
        c1, c2 = sb.columns(2)
        c1.number_input(W["ram_gb"], min_value=0.0, max_value=4096.0, step=1.0, key="req_ram", help=W["ram_help"])
        c2.number_input(W["vram_gb"], min_value=0.0, max_value=4096.0, step=1.0, key="req_vram")
        gpus = sorted(cat.accelerators)
        sb.selectbox(W["gpu"], gpus, key="req_gpu", index=None, placeholder=W["none"],
                     format_func=lambda i: cat.accelerators[i].name if i in cat.accelerators else i)
        c1, c2 = sb.columns(2)
        c1.number_input(W["bandwidth"], min_value=0.0, max_value=20000.0, step=10.0, key="req_bandwidth")
        c2.number_input(W["tflops"], min_value=0.0, max_value=20000.0, step=1.0, key="req_tflops")
        c1, c2 = sb.columns(2)
        c1.number_input(W["gpus"], min_value=1, max_value=64, step=1, key="req_gpus", help=W["gpus_help"])
        c2.selectbox(W["interconnect"], ("nvlink", "pcie"), key="req_interconnect", index=None, placeholder="auto",
                     help=W["interconnect_help"])
    langs = language_options()
    sb.multiselect(W["languages"], list(langs), key="req_lang", format_func=lambda c: langs.get(c, c),
                   placeholder=W["languages_placeholder"])
    sb.checkbox(W["lang_strict"], key="req_lang_strict", help=W["lang_strict_help"])
    from advisor.requirements import MODALITIES, PLATFORMS
    from advisor.schemas import TASKS

    sb.multiselect(W["modalities"], list(MODALITIES), key="req_modality")
    sb.multiselect(W["tasks"], list(TASKS), key="req_task")
    ctxs = sorted(set(CONTEXTS) | {st.session_state.req_context})
    sb.select_slider(W["context"], ctxs, key="req_context", format_func=_tokens)
    c1, c2 = sb.columns(2)
    c1.number_input(W["min_tps"], min_value=0.0, step=1.0, key="req_min_tps")
    c2.number_input(W["max_ttft"], min_value=0.0, step=100.0, key="req_max_ttft")
    sb.number_input(W["prompt_tokens"], min_value=1, max_value=1_000_000, step=128, key="req_prompt_tokens")
    from advisor.requirements import KV_CACHE_TYPES, LICENSE_CLASSES

    licences = list(LICENSE_CLASSES[1:]) + sorted({m.license.lower() for m in cat.models.values()})
    sb.multiselect(W["license"], licences, key="req_license", placeholder=W["any"])
    sb.selectbox(W["platform"], list(PLATFORMS), key="req_platform", index=None, placeholder=W["any"])
    sb.multiselect(W["runtimes"], sorted(cat.runtimes), key="req_runtimes", placeholder=W["all"],
                   format_func=lambda r: cat.runtimes[r].name)
    sb.number_input(W["max_download"], min_value=0.0, step=1.0, key="req_max_download", help=W["max_download_help"])
    sb.slider(W["headroom"], 0.0, 0.5, step=0.05, key="req_headroom", format="%.2f")
    sb.radio(W["kv_cache"], KV_CACHE_TYPES, key="req_kv_cache", horizontal=True, help=W["kv_cache_help"])
    c1, c2 = sb.columns(2)
    c1.number_input(W["users"], min_value=1, max_value=4096, step=1, key="req_users", help=W["users_help"])
    c2.number_input(W["rate"], min_value=0.0, step=0.5, key="req_rate", help=W["rate_help"])
    sb.number_input(W["output_tokens"], min_value=1, max_value=1_000_000, step=64, key="req_output_tokens")
    sb.radio(W["prefer"], ("quality", "speed", "memory"), key="req_prefer", horizontal=True)
    c1, c2 = sb.columns(2)
    c1.number_input(W["top"], min_value=1, max_value=50, step=1, key="req_top")
    c2.date_input(W["as_of"], key="req_as_of", help=W["as_of_help"])


def _tokens(n: int) -> str:
    return f"{n // 1024}K" if n >= 1024 and n % 1024 == 0 else str(n)


def requirements():
    """(raw, Requirements) of the sidebar, checked; the URL is set to them. None after showing the error."""
    from advisor.requirements import build, to_spec

    if st.session_state.get("_load_error"):
        st.error(W["load_error"].format(error=st.session_state.pop("_load_error")))
    raw = raw_requirements()
    try:
        req = build(raw)
        from advisor.requirements import check_ids

        check_ids(req, catalog())
    except AdvisorError as e:
        st.error(str(e))
        return None
    spec = to_spec(req)
    st.query_params.from_dict({k: ",".join(map(str, v)) if isinstance(v, list) else str(v) for k, v in spec.items()})
    return raw, req


def recommendation():
    """(raw, Requirements, report with every stack) of the sidebar, or None after showing the error."""
    got = requirements()
    if got is None:
        return None
    raw, req = got
    rep = run(recommend, normalised(req))
    return None if rep is None else (raw, req, rep)


def _key(raw: dict) -> str:
    return json.dumps(raw, sort_keys=True, default=str)


@st.cache_data(show_spinner=False, max_entries=64)
def recommend(raw_json: str) -> dict:
    """advisor.report.recommend_report with every stack, per normalised requirements."""
    from advisor.api import resolve, user_profiles
    from advisor.report import recommend_report

    req, spec = resolve(catalog(), json.loads(raw_json))
    return recommend_report(catalog(), req, spec, user_profiles(), include_stacks=True)


@st.cache_data(show_spinner=False, max_entries=64)
def why(raw_json: str, model_id: str) -> dict:
    from advisor.api import resolve, user_profiles
    from advisor.report import why_report

    req, spec = resolve(catalog(), json.loads(raw_json))
    return why_report(catalog(), req, spec, model_id, user_profiles())


@st.cache_data(show_spinner=False, max_entries=32)
def sweep(raw_json: str, stacks: tuple[tuple[str, str, str], ...]) -> list[dict]:
    from advisor.api import resolve, user_profiles
    from advisor.report import context_sweep

    _, spec = resolve(catalog(), json.loads(raw_json))
    return context_sweep(catalog(), spec, list(stacks), user_profiles())


@st.cache_data(show_spinner=False, max_entries=32)
def stack_details(raw_json: str, stacks: tuple[tuple[str, str, str], ...]) -> list[dict]:
    """`advisor estimate` of each stack at the requirements' context (memory parts, speed, basis)."""
    from advisor.api import resolve, user_profiles
    from advisor.estimate import estimate_stack

    req, spec = resolve(catalog(), json.loads(raw_json))
    return [estimate_stack(catalog(), m, q, rt, req.context, spec, prompt_tokens=req.prompt_tokens,
                           extra_profiles=user_profiles()).as_dict() for m, q, rt in stacks]


def normalised(req) -> str:
    """The cache key of a result: the checked requirements (two spellings of one requirement share it)."""
    return _key(req.model_dump())


def run(fn, *args):
    """Call a cached function; bad input shows st.error naming the field (never a traceback)."""
    try:
        return fn(*args)
    except AdvisorError as e:
        st.error(str(e))
        return None

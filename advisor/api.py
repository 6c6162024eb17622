"""The calls every front end makes (the CLI, the Streamlit UI, plans): requirements from raw values,
the hardware they name, and this machine's stored profiles. No framework is imported here."""

from __future__ import annotations

from typing import Any

from .errors import InputError


def resolve_hardware(cat, hardware_id: str | None, ram: str | None, vram: str | None, bandwidth: float | None,
                     gpu: str | None = None, tflops: float | None = None, gpus: int | None = None,
                     interconnect: str | None = None, nodes: int | None = None):
    """--hardware, or --gpu/--ram/--vram/--bandwidth/--tflops, or this machine (detected and measured);
    --gpus N of the GPU named (--vram, --bandwidth and --tflops are each GPU's); --nodes N such machines."""
    spec = _hardware(cat, hardware_id, ram, vram, bandwidth, gpu, tflops)
    if nodes and nodes > 1:
        if spec.memory_kind != "vram":
            raise InputError("--nodes", f"{spec.name} has no discrete GPU: only vLLM spans machines, on GPUs",
                             "--hardware ID of a GPU server, or --gpu ID [--gpus N], with --nodes N")
        spec = _gpus(spec, hardware_id, gpus, interconnect).with_nodes(nodes)
        return spec
    return _gpus(spec, hardware_id, gpus, interconnect)


def _gpus(spec, hardware_id, gpus, interconnect):
    if gpus is None and interconnect is None:
        return spec
    if hardware_id:
        raise InputError("--gpus" if gpus is not None else "--interconnect",
                         f"--hardware {hardware_id} gives its own GPUs", "--hardware ID alone, or --gpu ID --gpus N")
    if spec.memory_kind != "vram":
        raise InputError("--gpus" if gpus is not None else "--interconnect", f"{spec.name} has no discrete GPU",
                         "--gpu ID (see `advisor hardware gpus`) or --vram SIZE, with --gpus N")
    return spec.with_gpus(gpus or spec.gpus, interconnect or "")


def _hardware(cat, hardware_id, ram, vram, bandwidth, gpu, tflops):
    from .estimate import custom_spec, detected_spec, from_profile
    from .units import parse_budget_gb

    if hardware_id:
        if ram or vram or bandwidth or gpu or tflops:
            raise InputError("--hardware", "give either --hardware or --gpu/--ram/--vram/--bandwidth/--tflops, not both",
                             "--hardware ID alone, or any of --gpu/--ram/--vram/--bandwidth/--tflops")
        return from_profile(hardware_id, cat.hw(hardware_id))
    ram_gb = parse_budget_gb(ram, "--ram") if ram else None
    vram_gb = parse_budget_gb(vram, "--vram") if vram else None
    for flag, v in (("--bandwidth", bandwidth), ("--tflops", tflops)):
        if v is not None and v <= 0:
            raise InputError(flag, "must be positive", "a number, e.g. --bandwidth 50 (GB/s), --tflops 165")
    base = detected_spec(measure=bandwidth is None or bool(vram_gb or gpu), cat=cat)
    if ram_gb or vram_gb or bandwidth or gpu or tflops:
        if base.memory_kind == "vram" and not (vram_gb or gpu):
            base = detected_spec(measure=bandwidth is None, cat=None)  # --ram: this machine's CPU side
        return custom_spec(ram_gb, vram_gb, bandwidth, base, tflops=tflops, cat=cat, gpu=gpu)
    return base


def resolve(cat, raw: dict[str, Any]):
    """(Requirements, HardwareSpec) from raw requirement values (the keys of `advisor.requirements.build`,
    from flags, a spec file, a URL or a form). Every value is checked; bad input raises InputError."""
    from .requirements import PHONE_CONTEXT, build, check_ids

    req = build(raw)
    check_ids(req, cat)
    spec = resolve_hardware(cat, req.hardware, str(req.ram_gb) + "GB" if req.ram_gb else None,
                            str(req.vram_gb) + "GB" if req.vram_gb else None, req.bandwidth_gbps, req.gpu, req.tflops,
                            req.gpus, req.interconnect, req.nodes)
    if raw.get("context") is None and req.hardware and cat.hw(req.hardware).kind == "phone":
        req.context = PHONE_CONTEXT
        spec.notes.append(f"context {PHONE_CONTEXT} tokens: the default on phones, where on-device runtimes ship "
                          "files fixed to 4K (give --context for more)")
    if spec.memory_kind == "vram" and not spec.bandwidth_gbps and (req.min_tps is not None or req.max_ttft_ms is not None):
        flag = "--min-tps" if req.min_tps is not None else "--max-ttft-ms"
        raise InputError(flag, f"the speed of {spec.name} is unknown, so a speed limit cannot be checked",
                         "--gpu NAME (see `advisor hardware gpus`) or --bandwidth GB/s [--tflops N]")
    return req, spec


def user_profiles(directory=None):
    """Profiles measured on this machine by `advisor profile` (none until that has run)."""
    from .store import load_profiles

    return load_profiles(directory)


def on_target(cat, raw: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Raw requirements to check on the target machine itself: `hardware: ID` (a plan's requirements.yaml, a fleet
    class) becomes that profile's memory as the budget on this machine (RAM, or VRAM for a GPU profile), since
    `verify` measures the machine it runs on. Returns (raw, a note saying so, or None)."""
    hw_id = raw.get("hardware")
    if not hw_id:
        return raw, None
    h = cat.hw(str(hw_id).lower())
    out = {k: v for k, v in raw.items() if k != "hardware"}
    key = "vram_gb" if h.memory_kind == "vram" else "ram_gb"
    out.setdefault(key, f"{h.memory_gb:g}GB")
    return out, (f"checked on this machine against {h.name}'s budget ({h.memory_gb:g} GB {h.memory_kind}): run it on "
                 f"a {h.name}")

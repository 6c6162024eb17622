"""The llama-cpp-python build flags of the install command, and the hint a known llama.cpp crash gets."""

import importlib.util
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

from profiling.measure import _crash_hint

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("llama_cmake_args", ROOT / "tools" / "llama_cmake_args.py")
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)


def test_amx_cpu_builds_without_amx_and_keeps_given_args(tmp_path):
    flags = tmp_path / "cpuinfo"
    flags.write_text("processor : 0\nflags : fpu avx2 avx512f amx_bf16 amx_tile amx_int8\n")
    assert tool.has_amx(str(flags))
    got = tool.cmake_args("-DGGML_CUDA=on", "x86_64", True, lambda f: True)
    off = "'-mno-amx-tile -mno-amx-int8 -mno-amx-bf16'"
    assert got == f"-DGGML_CUDA=on -DCMAKE_C_FLAGS={off} -DCMAKE_CXX_FLAGS={off}"
    assert shlex.split(got)[1] == "-DCMAKE_C_FLAGS=-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"


def test_no_amx_flags_elsewhere(tmp_path):
    flags = tmp_path / "cpuinfo"
    flags.write_text("processor : 0\nflags : fpu avx2 avx512f avx512_vnni\n")
    assert not tool.has_amx(str(flags))
    assert tool.cmake_args("", "x86_64", False, lambda f: True) == ""
    assert tool.cmake_args("", "aarch64", True, lambda f: True) == ""  # an ARM compiler rejects the flag
    assert tool.cmake_args(" -DX=1 ", "x86_64", True, lambda f: False) == "-DX=1"  # a compiler without it


def test_tool_runs_before_anything_is_installed():
    # standard library only, with the system Python; prints the args for this machine
    env = {k: v for k, v in os.environ.items() if k != "CMAKE_ARGS"}
    r = subprocess.run([sys.executable, "-S", str(ROOT / "tools" / "llama_cmake_args.py")], capture_output=True,
                       text=True, env=env, check=True)
    expect = "-mno-amx-tile" if (platform.machine() == "x86_64" and tool.has_amx()
                                 and tool.compiler_takes("-mno-amx-tile")) else ""
    assert (expect in r.stdout) if expect else r.stdout == ""


def test_amx_crash_names_the_rebuild():
    hint = _crash_hint(-11, True)
    assert "AMX" in hint and "llama_cmake_args.py" in hint and "--force-reinstall" in hint
    assert _crash_hint(-11, False) == "" and _crash_hint(1, True) == ""

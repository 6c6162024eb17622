"""Print the CMAKE_ARGS that llama-cpp-python's source build needs on this machine (empty when none).

On an x86 CPU with AMX (Intel Sapphire Rapids and later), a native build of llama.cpp compiles its AMX
kernels, and with GCC those crash at the first matrix product: the tile configuration built on the stack
is optimised away and `ldtilecfg` loads an invalid one (general protection fault in
`ggml_backend_amx_mul_mat`; upstream: https://github.com/ggml-org/llama.cpp/pull/26954, open). Building
with `-mno-amx-tile -mno-amx-int8 -mno-amx-bf16` leaves llama.cpp on its AVX-512 VNNI kernels, which run. Any CMAKE_ARGS already set
are kept. Standard library only: it runs before anything is installed.
"""

import os
import platform
import subprocess
import sys


def has_amx(cpuinfo: str = "/proc/cpuinfo") -> bool:
    try:
        with open(cpuinfo) as f:
            return any(line.startswith("flags") and " amx_tile" in line for line in f)
    except OSError:
        return False


def compiler_takes(flag: str) -> bool:
    cc = os.environ.get("CC", "cc")
    try:
        r = subprocess.run([cc, flag, "-x", "c", "-E", os.devnull], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


# every AMX extension GCC 12 knows; -march=native would otherwise keep those not named (amx-int8 without
# amx-tile fails to compile llama.cpp's AMX kernels). CMAKE_ARGS is split like a shell line, so the quotes
# keep the flags in one definition.
NO_AMX = ("-mno-amx-tile", "-mno-amx-int8", "-mno-amx-bf16")


def cmake_args(existing: str, machine: str, amx: bool, takes_flag) -> str:
    args = existing.strip()
    if machine.lower() in ("x86_64", "amd64") and amx and takes_flag("-mno-amx-tile"):
        off = "'" + " ".join(NO_AMX) + "'"
        args = (args + f" -DCMAKE_C_FLAGS={off} -DCMAKE_CXX_FLAGS={off}").strip()
    return args


def main() -> None:
    sys.stdout.write(cmake_args(os.environ.get("CMAKE_ARGS", ""), platform.machine(), has_amx(), compiler_takes))


if __name__ == "__main__":
    main()

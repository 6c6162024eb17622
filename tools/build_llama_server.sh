#!/usr/bin/env bash
# Build llama.cpp's own `llama-server` from the llama.cpp that the installed llama-cpp-python pins (its sdist
# on PyPI vendors that exact llama.cpp commit), into the virtual environment's bin/ (.venv/bin/llama-server).
# The plan tests run the generated deploy/llama-server.sh with it and check every flag against its --help.
#
#   tools/build_llama_server.sh [VENV]      (default .venv; about 6 minutes on 2 cores, once per version)
#
# Needs cmake and a C++ compiler (tools/install_system_packages.sh); network only to the package index. Idempotent: a stamp names the version built.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-.venv}"
py="$venv/bin/python"
[ -x "$py" ] || { echo "build_llama_server: no virtual environment at $venv (run the install first)" >&2; exit 2; }
version="$("$py" -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))')"
bin="$venv/bin/llama-server"
stamp="$venv/bin/.llama-server-version"
if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
    echo "llama-server of llama-cpp-python $version is built: $bin"
    exit 0
fi
need() { command -v "$1" >/dev/null || { echo "build_llama_server: needs $1 (tools/install_system_packages.sh)" >&2; exit 2; }; }
need cmake
need c++

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
name="llama_cpp_python-$version.tar.gz"
# the sdist from the package index (PEP 503; PIP_INDEX_URL if set), checked against the sha256 its link carries
"$py" - "$name" "$work" <<'PY'
import hashlib, os, re, sys, urllib.parse, urllib.request
name, work = sys.argv[1], sys.argv[2]
index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/") + "/llama-cpp-python/"
page = urllib.request.urlopen(index, timeout=120).read().decode()
m = re.search(r'href="([^"]*/' + re.escape(name) + r')#sha256=([0-9a-f]{64})"', page)
if not m:
    sys.exit(f"build_llama_server: {name} not found at {index}")
url = urllib.parse.urljoin(index, m.group(1))
data = urllib.request.urlopen(url, timeout=600).read()
if hashlib.sha256(data).hexdigest() != m.group(2):
    sys.exit(f"build_llama_server: {url} does not match its sha256")
open(os.path.join(work, name), "wb").write(data)
PY
tar -xzf "$work/$name" -C "$work"
src="$work/llama_cpp_python-$version/vendor/llama.cpp"

# the same CMAKE_ARGS as llama-cpp-python's own build (e.g. AMX kernels off where GCC miscompiles them)
extra="${CMAKE_ARGS:-$(python3 tools/llama_cmake_args.py)}"
eval "set -- $extra"
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF \
    -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON \
    -DLLAMA_BUILD_SERVER=ON "$@" >"$work/configure.log" 2>&1 || { tail -30 "$work/configure.log" >&2; exit 1; }
cmake --build "$work/build" --target llama-server -j"$(nproc)" >"$work/build.log" 2>&1 \
    || { tail -40 "$work/build.log" >&2; exit 1; }
install -m 755 "$work/build/bin/llama-server" "$bin"
echo "$version" >"$stamp"
"$bin" --version 2>&1 | head -1
echo "built $bin (llama.cpp vendored by llama-cpp-python $version)"

#!/usr/bin/env sh
# The Debian packages the tests need, through apt-get: chromium (the web UI's and the plan report's real-browser
# tests; Playwright drives it through executable_path, nothing downloads a browser), and cmake and g++ (building
# llama.cpp's own llama-server, tools/build_llama_server.sh). Does nothing when all are installed.
set -eu
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v cmake >/dev/null 2>&1 || missing="$missing cmake"
command -v g++ >/dev/null 2>&1 || missing="$missing g++"
[ -n "$missing" ] || exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
command -v chromium cmake g++

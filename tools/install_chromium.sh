#!/usr/bin/env sh
# Debian's chromium for the web UI's real-browser test (Playwright drives it through executable_path;
# nothing downloads a browser). Does nothing when chromium is already installed.
set -eu
command -v chromium >/dev/null 2>&1 && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
command -v chromium

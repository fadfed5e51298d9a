#!/usr/bin/env bash
# Install the system binaries flowsim's tests and renderers need, when they are missing:
# Graphviz (`dot`), cairo, and a CJK font (WenQuanYi Micro Hei). Debian/Ubuntu via apt-get.
set -euo pipefail

need=()
command -v dot >/dev/null 2>&1 || need+=(graphviz)
# cairo draws the journey map's PNG/PDF (cairosvg); Graphviz usually brings it already.
ldconfig -p 2>/dev/null | grep -q "libcairo.so.2" || need+=(libcairo2)
if ! fc-list 2>/dev/null | grep -qi -e "wenquanyi" -e "wqy" -e "noto sans cjk"; then
    need+=(fonts-wqy-microhei fontconfig)
fi
[ ${#need[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
    echo "flowsim needs: ${need[*]} (no apt-get here: install them with your package manager)" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "flowsim needs: ${need[*]}; run as root or install sudo: apt-get install ${need[*]}" >&2
        exit 1
    fi
fi
echo "installing ${need[*]} ..." >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

#!/usr/bin/env bash
# Install the system binaries flowsim's tests and renderers need, when they are missing:
# Graphviz (`dot`), cairo, a CJK font (WenQuanYi Micro Hei), and Chromium (the report and
# studio pages are tested in real headless Chromium). Debian/Ubuntu via apt-get.
set -euo pipefail

need=()
command -v dot >/dev/null 2>&1 || need+=(graphviz)
# cairo draws the journey map's PNG/PDF (cairosvg); Graphviz usually brings it already.
ldconfig -p 2>/dev/null | grep -q "libcairo.so.2" || need+=(libcairo2)
if ! fc-list 2>/dev/null | grep -qi -e "wenquanyi" -e "wqy" -e "noto sans cjk"; then
    need+=(fonts-wqy-microhei fontconfig)
fi
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0

# shellcheck source=scripts/apt.sh
source "$(dirname "$0")/apt.sh"
apt_install flowsim "${need[@]}"

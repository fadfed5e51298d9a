#!/usr/bin/env bash
# Install what the Mermaid export tests need: Node.js with npm (Debian packages via apt-get,
# when missing), then the pinned npm packages of tests/js (mermaid, jsdom) with `npm ci`, when
# tests/js/node_modules is missing or was installed from a different package-lock.json.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../tests/js"

need=()
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
    # shellcheck source=scripts/apt.sh
    source "$here/apt.sh"
    apt_install "flowsim's Mermaid tests" "${need[@]}"
fi

major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 18 ]; then
    echo "flowsim's Mermaid tests need Node.js 18 or newer (found $(node --version))" >&2
    exit 1
elif [ "$major" -lt 20 ]; then
    echo "warning: Node.js $(node --version); the Mermaid tests are verified with Node.js 20" >&2
fi

sha256() { if command -v sha256sum >/dev/null 2>&1; then sha256sum; else shasum -a 256; fi; }

# One installer at a time (parallel test sessions): a lock outside the repository.
if command -v flock >/dev/null 2>&1; then
    exec 9>"${TMPDIR:-/tmp}/flowsim-node-deps-$(pwd | sha256 | cut -c1-16).lock"
    flock 9
fi

# The stamp is the hash of the manifest and lock file the modules were installed from.
want="$(cat package.json package-lock.json | sha256 | cut -d' ' -f1)"
stamp=node_modules/.flowsim-lock.sha256
if [ -d node_modules ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
echo "installing the Mermaid test packages (npm ci in tests/js) ..." >&2
npm ci --no-audit --no-fund --loglevel=error >&2
echo "$want" > "$stamp"

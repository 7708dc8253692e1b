#!/usr/bin/env bash
# The test command of the README: every test of the workspace on the embedded default
# (SQLite), including the FITS test that opens our maps with real astropy/sunpy and the
# reproduction scripts run with real stixpy/xrayvision.
# Python packages go into a private virtualenv under target/ (created on first use).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/pyenv
if ! "$venv/bin/python" -c "import sunpy.map, astropy, stixpy, xrayvision, matplotlib, PIL" >/dev/null 2>&1; then
    command -v python3 >/dev/null || { echo "scripts/test.sh: python3 is needed for the sunpy check (apt-get install python3 python3-venv)" >&2; exit 1; }
    echo "scripts/test.sh: installing astropy + sunpy + stixpy + xrayvision into $venv (first run only)" >&2
    mkdir -p target
    python3 -m venv "$venv"
    # stixpy + xrayvision (PyPI: xrayvisim) run the reproduction scripts; matplotlib and
    # pillow draw the plots and the animation template's GIF.
    "$venv/bin/pip" install --quiet --disable-pip-version-check "sunpy[map]" stixpy xrayvisim matplotlib pillow
fi
export STIX_PYTHON="$PWD/$venv/bin/python"

# moto's S3 server (a real S3-compatible HTTP server on loopback) for the object-storage
# tests of jobs::storage, the api and the end-to-end suite.
if ! "$venv/bin/python" -c "import moto.server, flask" >/dev/null 2>&1 || [ ! -x "$venv/bin/moto_server" ]; then
    echo "scripts/test.sh: installing moto[server] into $venv (first run only)" >&2
    "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==5.2.5"
fi
export STIX_MOTO_SERVER="$PWD/$venv/bin/moto_server"

# The browser tests drive Debian's Chromium with playwright-core and Debian's Firefox ESR with
# puppeteer-core (both pinned in tests/browser/package-lock.json; no browser is downloaded).
if [ ! -d tests/browser/node_modules/playwright-core ] || [ ! -d tests/browser/node_modules/puppeteer-core ]; then
    command -v npm >/dev/null || { echo "scripts/test.sh: npm is needed for the browser tests (apt-get install npm)" >&2; exit 1; }
    (cd tests/browser && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --silent)
fi

cargo test --workspace --no-fail-fast "$@"

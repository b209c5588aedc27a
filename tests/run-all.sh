#!/usr/bin/env bash
# Install what the test suite needs (Debian packages, Python venv) and run it
# all: ruff, the import-linter layering contracts, mypy, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

# dicom3tools and dcmtk: outside DICOM validators; xvfb and the xcb/GL
# libraries: a real Qt window for the screenshot test.
APT_PACKAGES=(dicom3tools dcmtk xvfb xauth libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4
              libxcb-keysyms1 libxcb-image0 libxcb-render-util0 libxcb-xinerama0 libxcb-shape0
              libegl1 libgl1 libfontconfig1 libdbus-1-3
              orthanc orthanc-dicomweb nginx-light curl openssl)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'

# The suite writes a few GB of synthetic studies under the temporary folder:
# say how much room there is, so that a full disk is recognised as such.
echo "== free space"
df -h . "${TMPDIR:-/tmp}" || true

echo "== ruff"
.venv/bin/ruff check .
echo "== import-linter"
.venv/bin/lint-imports
echo "== mypy"
.venv/bin/python -m mypy
echo "== pytest"
# The fuzz test (tests/fuzz, part of the suite) runs for a fixed time with a
# fixed seed, so that CI's result can be reproduced; set MAMMODESK_FUZZ_SEED
# (or leave it empty for a random one) to explore further by hand.
export MAMMODESK_FUZZ_SECONDS="${MAMMODESK_FUZZ_SECONDS:-60}"
export MAMMODESK_FUZZ_SEED="${MAMMODESK_FUZZ_SEED-20261207}"
.venv/bin/python -m pytest --durations=15 "$@"

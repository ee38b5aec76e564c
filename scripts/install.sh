#!/usr/bin/env bash
# scripts/install.sh PYTHON INSTALLER PIP-ARGS...: install into PYTHON's venv with uv (seconds) when INSTALLER is
# "uv" and uv can be had from the package index, else with pip (minutes). Quiet: errors only.
set -euo pipefail
py="$1"; installer="$2"; shift 2
if [ "$installer" = uv ]; then
  if "$py" -m uv --version >/dev/null 2>&1 || "$py" -m pip install --quiet --disable-pip-version-check uv 2>/dev/null; then
    echo "peekr: installing with uv..."
    if "$py" -m uv pip install --quiet --python "$py" "$@"; then exit 0; fi
    echo "peekr: uv failed; installing with pip instead"
  fi
fi
echo "peekr: installing with pip (a few minutes)..."
# pip warns about every missing local index directory of this machine's pip.conf: not worth a user's screen.
"$py" -m pip install --quiet --disable-pip-version-check "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)

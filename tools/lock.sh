#!/usr/bin/env bash
# Regenerates requirements.lock: every Python package zjmap installs, pinned, with
# the sha256 of each file PyPI has for that release, one lock for Python 3.11-3.13
# (the same versions install on all three; uv's --universal resolution would fork
# the lock with markers if a version had to differ). tools/setup.sh installs it
# with `pip install --require-hashes`.
#
# ADDING A DEPENDENCY: add one line to pyproject.toml ([project] dependencies, or
# the "test" extra for test-only packages), then run
#     bash tools/lock.sh
# and commit pyproject.toml together with requirements.lock. Pins already in the
# lock are kept (uv reads the old lock as its preferences), so only the new
# package and what it needs get resolved. To move packages to newer releases:
#     bash tools/lock.sh --upgrade-package NAME      # or --upgrade for all
# After a rebase that touches both sides, take either lock and rerun this script.
set -euo pipefail
cd "$(dirname "$0")/.."
UV_VERSION=0.13.8
tooldir="${XDG_CACHE_HOME:-$HOME/.cache}/zjmap-lock-uv-$UV_VERSION"
if [ ! -x "$tooldir/bin/uv" ]; then
  python3 -m venv "$tooldir"
  "$tooldir/bin/python" -m pip install -q "uv==$UV_VERSION"
fi
"$tooldir/bin/uv" pip compile pyproject.toml --extra test \
  --universal --python-version 3.11 --generate-hashes \
  --custom-compile-command "bash tools/lock.sh" --no-annotate --index-url https://pypi.org/simple \
  -o requirements.lock -q "$@"
echo "requirements.lock: $(grep -c '^[A-Za-z]' requirements.lock) packages pinned with hashes"

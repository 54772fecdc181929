#!/usr/bin/env bash
# Installs whatever is missing for zjmap, and nothing that is already there:
# the Debian packages Qt/QtWebEngine and the CJK fonts need, a virtual
# environment in .venv with the newest Python 3.11-3.13 found, and the pinned,
# hashed Python packages of requirements.lock (regenerate it with tools/lock.sh).
# Works on Debian 12, Debian 13 and Ubuntu 24.04.
set -euo pipefail
cd "$(dirname "$0")/.."

# Other packages zjmap needs (add new Debian packages here). The libraries Qt
# loads come from tools/debian-qt-libs.txt, derived with ldd (tools/qt_libs.py).
APT_PACKAGES="fonts-noto-cjk poppler-utils python3-venv"
# the test servers: SpatiaLite for pygeoapi's GeoPackage provider, MapServer as the WFS 2.0
APT_PACKAGES="$APT_PACKAGES libsqlite3-mod-spatialite cgi-mapserver"
APT_PACKAGES="$APT_PACKAGES $(grep -v '^#' tools/debian-qt-libs.txt | cut -f1 | tr '\n' ' ')"
# PostgreSQL + PostGIS: the tests start their own server (tests/pgserver.py)
case "$(. /etc/os-release; echo "${VERSION_CODENAME:-}")" in
  bookworm) PG=15 ;; trixie) PG=17 ;; noble) PG=16 ;; *) PG="" ;;
esac
if [ -n "$PG" ]; then APT_PACKAGES="$APT_PACKAGES postgresql-$PG postgresql-$PG-postgis-3"; fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}'; }

# Debian 13 and Ubuntu 24.04 renamed libraries whose ABI has time_t ("t64");
# there the old name is only virtual. Take the name apt can really install.
real_name() {
  local p=$1 c
  installed "$p" && { echo "$p"; return; }
  installed "${p}t64" && { echo "${p}t64"; return; }
  for c in "$p" "${p}t64"; do
    case "$(candidate "$c")" in ""|"(none)") ;; *) echo "$c"; return ;; esac
  done
  echo "$p"
}

missing_packages() {
  local p out=""
  for p in $APT_PACKAGES; do
    installed "$p" || installed "${p}t64" || out="$out $(real_name "$p")"
  done
  echo "$out"
}

missing="$(missing_packages)"
if [ -n "$missing" ]; then
  if [ "$(id -u)" = "0" ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    missing="$(missing_packages)"   # names resolved again now that apt's lists are fresh
    echo "zjmap setup: installing Debian packages:$missing"
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "zjmap setup needs these Debian packages; install them, then run make again:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends$missing" >&2
    exit 1
  fi
fi

# The newest Python 3.11-3.13 on PATH (PYTHON=... chooses one).
PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  best=0
  for c in python3.13 python3.12 python3.11 python3; do
    command -v "$c" >/dev/null || continue
    v="$("$c" -c 'import sys; v = sys.version_info; print(v[1] if v[:2] >= (3, 11) and v[:2] <= (3, 13) else 0)' 2>/dev/null)" || continue
    if [ "${v:-0}" -gt "$best" ] && "$c" -c 'import venv, ensurepip' 2>/dev/null; then best=$v; PYTHON=$c; fi
  done
fi
[ -n "$PYTHON" ] || { echo "zjmap setup: Python 3.11, 3.12 or 3.13 with venv is needed (none found)" >&2; exit 1; }

# A different Python (another version, or the same name now another build)
# means a new venv: compiled wheels and the venv's own links depend on it.
pyid="$("$PYTHON" -c 'import sys; print(sys.version.split()[0], sys.base_prefix)')"
if [ -x .venv/bin/python ] && [ "$(cat .venv/.zjmap-python 2>/dev/null)" != "$pyid" ]; then
  echo "zjmap setup: Python changed ($pyid), rebuilding .venv"
  rm -rf .venv
fi
if [ ! -x .venv/bin/python ]; then
  echo "zjmap setup: creating .venv with $PYTHON ($pyid)"
  "$PYTHON" -m venv .venv
  echo "$pyid" > .venv/.zjmap-python
fi

stamp=.venv/.zjmap-installed
want="$( (cat requirements.lock pyproject.toml; echo "$pyid") | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "zjmap setup: installing pinned Python packages"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q --require-hashes -r requirements.lock
  .venv/bin/python -m pip install -q --no-deps -e .
  echo "$want" > "$stamp"
fi

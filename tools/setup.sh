#!/usr/bin/env bash
# Installs whatever is missing for zjmap, and nothing that is already there:
# the Debian packages Qt/QtWebEngine and the CJK fonts need, a virtual
# environment in .venv, and the pinned Python packages of requirements.lock.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES="libegl1 libgl1 libopengl0 libfontconfig1 libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0 \
libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 \
libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libnss3 libxcomposite1 libxdamage1 libxrandr2 libxtst6 \
libasound2 libxshmfence1 libxkbfile1 fonts-noto-cjk poppler-utils python3-venv"
# PostgreSQL + PostGIS: the tests start their own server (tests/pgserver.py)
case "$(. /etc/os-release; echo "${VERSION_CODENAME:-}")" in
  bookworm) PG=15 ;; trixie) PG=17 ;; noble) PG=16 ;; *) PG="" ;;
esac
if [ -n "$PG" ]; then APT_PACKAGES="$APT_PACKAGES postgresql-$PG postgresql-$PG-postgis-3"; fi

missing=""
for p in $APT_PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "zjmap setup: installing Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "zjmap setup: these Debian packages are missing. Run as root:" >&2
    echo "  sudo apt-get install -y$missing" >&2
    exit 1
  fi
fi

PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  for c in python3.11 python3; do
    if command -v "$c" >/dev/null && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      PYTHON="$c"; break
    fi
  done
fi
[ -n "$PYTHON" ] || { echo "zjmap setup: Python 3.11 is needed (python3.11 not found)" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  echo "zjmap setup: creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi

stamp=.venv/.zjmap-installed
want="$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "zjmap setup: installing pinned Python packages"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements.lock
  .venv/bin/python -m pip install -q --no-deps -e .
  echo "$want" > "$stamp"
fi

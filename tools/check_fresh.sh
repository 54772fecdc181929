#!/usr/bin/env bash
# Tries the README on a minimal Debian, as a new user would:
#     sudo tools/check_fresh.sh bookworm|trixie
# debootstraps a minbase system (python3, make, git, ca-certificates only) into a
# temporary folder from the mirror this machine's apt uses, clones the committed
# main (ZJMAP_REF=branch to try another) into it, checks that a non-root user gets
# the one `sudo apt-get install ...` line, then runs the README's two set-up paths
# as root: `make test` and the set-up half of `make run` (`make setup`, which must
# then have nothing left to do). Prints the pytest summary at the end.
#
# Slow (a system, the Debian packages and ~600 MB of wheels): not part of .ci/run.
# Only the plumbing of this workplace is added here, never to the README's commands:
# the host's CA bundle (pip behind an inspecting proxy needs it) and the host's pip
# configuration with the local folders it names, so pip reaches PyPI as on the host.
set -euo pipefail
release="${1:?usage: tools/check_fresh.sh bookworm|trixie}"
repo="$(cd "$(dirname "$0")/.." && git rev-parse --show-toplevel)"
ref="${ZJMAP_REF:-main}"
[ "$(id -u)" = 0 ] || { echo "check_fresh: needs root (debootstrap, chroot)" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "check_fresh: apt-get install debootstrap first" >&2; exit 2; }

# The Debian mirror the host's apt already uses (deb822 .sources or one-line lists).
mirror="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ {print $2}' | grep -v security | grep debian | head -1)"
[ -n "$mirror" ] || mirror="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
  | awk '$1 == "deb" {print $2}' | grep -v security | grep debian | head -1)"
mirror="${mirror:-http://deb.debian.org/debian}"

root="$(mktemp -d "${TMPDIR:-/tmp}/zjmap-fresh-$release.XXXXXX")"
chmod 755 "$root"   # the new system's / (mktemp makes it 0700)
log="$root.log"
mounts=()
cleanup() {
  local m
  for ((i=${#mounts[@]}-1; i>=0; i--)); do umount -l "${mounts[i]}" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] || rm -rf --one-file-system "$root"
}
trap cleanup EXIT
bindmount() {  # bindmount SRC DEST [ro]
  mkdir -p "$2"; mount --bind "$1" "$2"; mounts+=("$2")
  [ "${3:-}" = ro ] && mount -o remount,bind,ro "$2"
  return 0
}

echo "check_fresh: debootstrap $release (minbase) from $mirror into $root (log: $log)"
debootstrap --variant=minbase --include=python3,make,git,ca-certificates \
  "$release" "$root" "$mirror" >"$log" 2>&1 || { tail -20 "$log"; exit 1; }

mount -t proc proc "$root/proc"; mounts+=("$root/proc")
bindmount /dev "$root/dev"
bindmount /dev/pts "$root/dev/pts"
bindmount /dev/shm "$root/dev/shm"   # QtWebEngine's shared memory
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/host-ca-certificates.crt"
[ -f /etc/pip.conf ] && cp /etc/pip.conf "$root/etc/pip.conf"
[ -d /etc/xdg/pip ] && { mkdir -p "$root/etc/xdg"; cp -r /etc/xdg/pip "$root/etc/xdg/pip"; }
for d in $(pip config list 2>/dev/null | grep -oE "(file://)?/opt/[^' ]+" | sed 's#^file://##' | sort -u); do
  [ -d "$d" ] && bindmount "$d" "$root$d" ro
done

git clone -q --branch "$ref" "$repo" "$root/opt/zjmap"
echo "check_fresh: cloned $ref at $(git -C "$root/opt/zjmap" log -1 --format='%h %s' | cut -c1-80)"

env_in=(env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  LANG=C.UTF-8 PIP_CERT=/etc/host-ca-certificates.crt SSL_CERT_FILE=/etc/host-ca-certificates.crt
  REQUESTS_CA_BUNDLE=/etc/host-ca-certificates.crt)
for v in $(env | grep -oE '^PIP_[A-Z_]+' | grep -v -E 'PIP_CERT'); do env_in+=("$v=${!v}"); done

echo "check_fresh: as a non-root user, before anything is installed:"
chroot "$root" "${env_in[@]}" HOME=/tmp setpriv --reuid=65534 --regid=65534 --clear-groups \
  bash -c 'cd /opt/zjmap && make setup' 2>&1 | sed 's/^/    /' || true

echo "check_fresh: make test (as root)"
rc=0
chroot "$root" "${env_in[@]}" bash -c 'cd /opt/zjmap && make test' >>"$log" 2>&1 || rc=$?
echo "check_fresh: make setup again (the set-up half of make run)"
chroot "$root" "${env_in[@]}" bash -c 'cd /opt/zjmap && make setup && .venv/bin/python -c "
import sys, PySide6; from PySide6 import QtWebEngineWidgets
print(\"    python\", sys.version.split()[0], \"PySide6\", PySide6.__version__)"' 2>&1 | tee -a "$log" | grep -v '^WARNING: Location'
echo "check_fresh: $release: $(grep -E '^(=+ )?[0-9]+ (passed|failed)|(passed|failed|error).* in [0-9.]+s' "$log" | tail -1)"
[ "$rc" = 0 ] || { echo "check_fresh: make test exited $rc; see $log"; tail -30 "$log"; }
exit "$rc"

#!/usr/bin/env bash
# Install Debian's HAProxy, the load balancer of `make stack` (scripts/stack.py) in front of
# the two Rasa instances. Idempotent and fast: does nothing when haproxy is installed.
# Needs root (CI runs as root on Debian); without root or apt-get it only explains and
# exits 0, and `make stack` / tests/deploy/test_stack.py say that haproxy is missing.
# The Debian package also installs a systemd service; the stack never uses it (it runs its
# own haproxy process on 127.0.0.1 with the configuration it writes under .data/stack/).
set -euo pipefail

if command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-haproxy: apt-get not found; install HAProxy (>= 2.2) by hand" >&2
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-haproxy: not root; run 'sudo $0' to install haproxy" >&2
  exit 0
fi

echo "install-haproxy: installing haproxy with apt-get"
export DEBIAN_FRONTEND=noninteractive
apt_get() { apt-get -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=300 "$@"; }
# Try without refreshing the package lists first (fast when they are recent).
if ! apt_get install -y -qq --no-install-recommends haproxy >/dev/null 2>&1; then
  apt_get update -qq
  apt_get install -y -qq --no-install-recommends haproxy
fi

if [ -x /usr/sbin/haproxy ]; then
  echo "install-haproxy: $(/usr/sbin/haproxy -v 2>/dev/null | head -1)"
else
  echo "install-haproxy: haproxy still missing after apt-get" >&2
  exit 1
fi

#!/usr/bin/env bash
# Install Debian's headless browser for the agent-console end-to-end test:
# chromium + chromium-driver (selenium drives /usr/bin/chromium through /usr/bin/chromedriver).
# Idempotent and fast: does nothing when both are already installed.
# Needs root (CI runs as root on Debian); without root or apt-get it only explains and
# exits 0, and the browser test skips with a clear reason.
set -euo pipefail

have_browser() {
  [ -x /usr/bin/chromium ] && { [ -x /usr/bin/chromedriver ] || command -v chromedriver >/dev/null; }
}

if have_browser; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-browser: apt-get not found; install chromium and chromium-driver by hand" >&2
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-browser: not root; run 'sudo $0' to install chromium and chromium-driver" >&2
  exit 0
fi

echo "install-browser: installing chromium and chromium-driver with apt-get"
export DEBIAN_FRONTEND=noninteractive
apt_get() { apt-get -o Dpkg::Use-Pty=0 -o DPkg::Lock::Timeout=300 "$@"; }
# Try without refreshing the package lists first (fast when they are recent).
if ! apt_get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null 2>&1; then
  apt_get update -qq
  apt_get install -y -qq --no-install-recommends chromium chromium-driver
fi

if have_browser; then
  echo "install-browser: $(/usr/bin/chromium --version 2>/dev/null || echo chromium installed)"
else
  echo "install-browser: chromium or chromedriver still missing after apt-get" >&2
  exit 1
fi

#!/usr/bin/env bash
# Prints the path of a Chromium the browser tests can drive (playwright-core, never its own browser downloads):
# Debian's `chromium` at /usr/bin/chromium, installed with apt-get when missing (as scripts/rabbitmq.sh installs
# RabbitMQ). CHROMIUM_PATH overrides the path when it points at an executable.
#
#   scripts/chromium.sh        install if missing, print the path
set -euo pipefail

CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"

if [ ! -x "$CHROMIUM" ]; then
  echo "chromium is not installed; installing it from Debian" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo -n"; fi
  install_chromium() { DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
  # A fresh image has no package lists, and old ones point at files the mirror no longer has: update, then retry.
  if ! apt-cache show chromium >/dev/null 2>&1 || ! install_chromium; then
    $sudo apt-get update -qq
    install_chromium
  fi
  CHROMIUM=/usr/bin/chromium
fi

if ! "$CHROMIUM" --version >/dev/null 2>&1; then
  echo "$CHROMIUM does not run" >&2
  exit 1
fi
echo "$CHROMIUM"

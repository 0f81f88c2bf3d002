#!/usr/bin/env bash
# Prints the path of Debian's `redis-server` for `npm run bench` (which starts its own on a free loopback port with a
# scratch folder, and stops it), installed with apt-get when missing, as scripts/chromium.sh installs Chromium. The
# package's own system service is stopped again at once: nothing of ours listens on Redis's default port.
#
#   scripts/redis.sh        install if missing, print the path
set -euo pipefail

REDIS=/usr/bin/redis-server

if [ ! -x "$REDIS" ]; then
  echo "redis-server is not installed; installing it from Debian" >&2
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo -n"; fi
  install_redis() { DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends redis-server >/dev/null; }
  # A fresh image has no package lists, and old ones point at files the mirror no longer has: update, then retry.
  if ! apt-cache show redis-server >/dev/null 2>&1 || ! install_redis; then
    $sudo apt-get update -qq
    install_redis
  fi
  $sudo service redis-server stop >/dev/null 2>&1 || true
fi

if ! "$REDIS" --version >/dev/null 2>&1; then
  echo "$REDIS does not run" >&2
  exit 1
fi
echo "$REDIS"

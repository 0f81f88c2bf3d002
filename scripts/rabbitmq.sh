#!/usr/bin/env bash
# A private RabbitMQ node for development and tests: Debian's rabbitmq-server, run as the current user (root is
# fine), on non-default ports, with every file under .rabbitmq/ in the repository, so it never touches or clashes
# with a system-wide broker.
#
#   scripts/rabbitmq.sh start    install if missing (apt-get), start, wait until ready, print the AMQP URL
#   scripts/rabbitmq.sh stop     stop the node and its private epmd
#   scripts/rabbitmq.sh status   exit 0 if the node is up
#   scripts/rabbitmq.sh url      print the AMQP URL
#
# Ports: RABBITMQ_PORT (AMQP, default 56720), RABBITMQ_PORT+1 (Erlang distribution), RABBITMQ_PORT+2 (epmd).
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${RABBITMQ_PORT:-56720}"
BASE="$PWD/.rabbitmq"
SBIN=/usr/lib/rabbitmq/bin

# Everything rabbitmq-server reads or writes is redirected here; HOME holds the Erlang cookie that rabbitmqctl needs.
export HOME="$BASE/home"
export RABBITMQ_NODENAME="fanout-dev@localhost"
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT="$PORT"
export RABBITMQ_DIST_PORT=$((PORT + 1))
export ERL_EPMD_PORT=$((PORT + 2))
export ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_MNESIA_BASE="$BASE/mnesia"
export RABBITMQ_LOG_BASE="$BASE/log"
export RABBITMQ_PID_FILE="$BASE/rabbitmq.pid"
export ERL_CRASH_DUMP="$BASE/erl_crash.dump"
export RABBITMQ_ENABLED_PLUGINS_FILE="$BASE/enabled_plugins"
export RABBITMQ_CONF_ENV_FILE="$BASE/rabbitmq-env.conf"
export RABBITMQ_CONFIG_FILE="$BASE/rabbitmq"
export RABBITMQ_ADVANCED_CONFIG_FILE="$BASE/advanced.config"
# Keep Erlang distribution on loopback too.
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
# The guest user may only connect over loopback, which is all we listen on.
URL="amqp://guest:guest@127.0.0.1:$PORT"

install_if_missing() {
  [ -x "$SBIN/rabbitmq-server" ] && return 0
  echo "rabbitmq-server is not installed; installing it from Debian" >&2
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo -n"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq rabbitmq-server >/dev/null
  # The package starts a system-wide node where init allows it; ours does not need it.
  $sudo service rabbitmq-server stop >/dev/null 2>&1 || true
}

is_up() {
  # rabbitmqctl needs a HOME it can write its Erlang cookie to, or the VM crashes instead of answering.
  mkdir -p "$HOME"
  "$SBIN/rabbitmqctl" -q status >/dev/null 2>&1
}

start() {
  install_if_missing
  if is_up; then
    echo "$URL"
    return 0
  fi
  mkdir -p "$HOME" "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE"
  : >"$RABBITMQ_CONF_ENV_FILE"
  [ -f "$RABBITMQ_ENABLED_PLUGINS_FILE" ] || echo '[].' >"$RABBITMQ_ENABLED_PLUGINS_FILE"
  printf 'loopback_users.guest = true\nlisteners.tcp.1 = 127.0.0.1:%s\n' "$PORT" >"$RABBITMQ_CONFIG_FILE.conf"
  [ -f "$RABBITMQ_ADVANCED_CONFIG_FILE" ] || echo '[].' >"$RABBITMQ_ADVANCED_CONFIG_FILE"
  # setsid: the node must outlive the shell (and the job control group) that started it.
  setsid nohup "$SBIN/rabbitmq-server" >"$BASE/startup.log" 2>&1 </dev/null &
  if ! "$SBIN/rabbitmqctl" -q wait --timeout 90 "$RABBITMQ_PID_FILE" >/dev/null 2>&1; then
    echo "RabbitMQ did not start; see $BASE/startup.log and $RABBITMQ_LOG_BASE" >&2
    tail -n 30 "$BASE/startup.log" >&2 || true
    return 1
  fi
  echo "$URL"
}

stop() {
  if [ -x "$SBIN/rabbitmqctl" ] && is_up; then
    "$SBIN/rabbitmqctl" -q stop "$RABBITMQ_PID_FILE" >/dev/null 2>&1 || true
  fi
  # Erlang starts an epmd on our private port; it would otherwise linger after the node is gone.
  if command -v epmd >/dev/null 2>&1; then epmd -port "$ERL_EPMD_PORT" -kill >/dev/null 2>&1 || true; fi
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  status) is_up ;;
  url) echo "$URL" ;;
  *)
    echo "usage: $0 start|stop|status|url" >&2
    exit 2
    ;;
esac

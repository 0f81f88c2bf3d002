#!/usr/bin/env bash
# A real OTLP receiver for the tracing tests: an OpenTelemetry Collector built from the collector's own Go modules
# with its official builder (ocb) — the core distribution's OTLP receiver and debug exporter, nothing else — on a
# private loopback port, printing every span it receives (the debug exporter at detailed verbosity) to a log file
# that the test reads. The core distribution's own command (otelcorecol) is not published as a Go module, hence
# the builder. Binaries are cached in .tools/ (GOPATH too), like scripts/temporal-cluster.sh caches its build.
#
#   scripts/otel-collector.sh build   go install the builder, build the collector (cached; 4–5 minutes cold)
#   scripts/otel-collector.sh start   build if needed, write the config, start it, wait until it listens; the last
#                                     line of output is OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:PORT
#   scripts/otel-collector.sh stop    SIGTERM it (SIGKILL after 10 s)
#
# Environment:
#   OTELCOL_DIR   scratch folder: config, pid file, and collector.log, where the spans are (default .otelcol/)
#   OTELCOL_PORT  the OTLP/HTTP port on 127.0.0.1 (default 14318)
#   OTELCOL_VERBOSITY  the debug exporter's: detailed (default), every span printed, which the tests read; basic,
#                 one line per batch received with its count of spans, for the benchmark's thousands of spans
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

VERSION=0.165.0          # the builder and the receiver and exporter modules, released together
PROVIDER_VERSION=1.71.0  # the stable confmap modules of the same release
TOOLS="$ROOT/.tools/otelcol-$VERSION"
COLLECTOR="$TOOLS/otelcol-fanout"

D="${OTELCOL_DIR:-$ROOT/.otelcol}"
case "$D" in /*) ;; *) D="$ROOT/$D" ;; esac
PORT="${OTELCOL_PORT:-14318}"
VERBOSITY="${OTELCOL_VERBOSITY:-detailed}"
CONFIG="$D/config.yaml"

log() { echo "otel-collector: $*" >&2; }
die() {
  log "$*"
  exit 1
}

build() {
  if [ -x "$COLLECTOR" ]; then
    log "build: already built ($COLLECTOR)"
    return 0
  fi
  mkdir -p "$TOOLS"
  # Modules and the builder under .tools/, writable so that the folder can simply be removed.
  export GOPATH="$ROOT/.tools/go" GOFLAGS=-modcacherw CGO_ENABLED=0
  local started=$SECONDS
  log "build: go install go.opentelemetry.io/collector/cmd/builder@v$VERSION"
  GOBIN="$TOOLS" go install "go.opentelemetry.io/collector/cmd/builder@v$VERSION" >>"$TOOLS/build.log" 2>&1 ||
    die "go install of the builder failed; see $TOOLS/build.log"
  cat >"$TOOLS/manifest.yaml" <<EOF
dist:
  name: otelcol-fanout
  description: OTLP receiver and debug exporter, for temporal-fanout's tracing tests
  output_path: $TOOLS/src
receivers:
  - gomod: go.opentelemetry.io/collector/receiver/otlpreceiver v$VERSION
exporters:
  - gomod: go.opentelemetry.io/collector/exporter/debugexporter v$VERSION
providers:
  - gomod: go.opentelemetry.io/collector/confmap/provider/envprovider v$PROVIDER_VERSION
  - gomod: go.opentelemetry.io/collector/confmap/provider/fileprovider v$PROVIDER_VERSION
EOF
  log "build: the collector (about 4 minutes with cold Go caches)"
  "$TOOLS/builder" --config "$TOOLS/manifest.yaml" >>"$TOOLS/build.log" 2>&1 ||
    die "the collector's build failed; see $TOOLS/build.log"
  mv "$TOOLS/src/otelcol-fanout" "$COLLECTOR"
  log "build: done in $((SECONDS - started)) s"
}

# PID of our collector if it is alive (never trust a stale pid file).
collector_pid() {
  local pid cmd
  pid=$(cat "$D/collector.pid" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ "$cmd" == "$COLLECTOR --config $CONFIG " ]] || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  build
  if collector_pid >/dev/null; then
    echo "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$PORT"
    return 0
  fi
  port_open "$PORT" && die "port $PORT is in use by another program (set OTELCOL_PORT)"
  mkdir -p "$D"
  # No gRPC receiver, and the collector's own metrics off: nothing listens but the one OTLP/HTTP port.
  cat >"$CONFIG" <<EOF
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:$PORT
exporters:
  debug:
    verbosity: $VERBOSITY
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug]
EOF
  setsid bash -c 'echo $$ >"$1"; exec "$2" --config "$3"' _ "$D/collector.pid" "$COLLECTOR" "$CONFIG" \
    >>"$D/collector.log" 2>&1 </dev/null &
  local i
  for i in $(seq 100); do
    if port_open "$PORT" && collector_pid >/dev/null; then
      echo "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$PORT"
      return 0
    fi
    sleep 0.1
  done
  tail -n 30 "$D/collector.log" >&2 || true
  die "the collector did not start; see $D/collector.log"
}

stop() {
  local pid i
  pid=$(collector_pid) || return 0
  kill -TERM "$pid"
  for i in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid"
}

case "${1:-}" in
  build) build ;;
  start) start ;;
  stop) stop ;;
  *) die "usage: $0 build|start|stop" ;;
esac

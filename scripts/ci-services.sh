#!/usr/bin/env bash
# Services the test suite talks to for real, started by .ci/run (and usable by hand): a private RabbitMQ node on
# loopback for the AMQP delivery tests (scripts/rabbitmq.sh installs Debian's rabbitmq-server if missing), and
# Debian's Chromium for the Web UI browser tests (scripts/chromium.sh installs it if missing; nothing to stop), the
# OpenTelemetry Collector the tracing test starts (scripts/otel-collector.sh builds it with Go once, 4–5 minutes,
# cached in .tools/; built here so that no test's time limit pays for it), and Debian's Prometheus for the metrics test (scripts/prometheus.sh installs it if missing; test/metrics.test.ts runs
# its own instance of the binary, scraping the processes it starts, so none is started here).
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-start}" in
  start)
    scripts/chromium.sh
    scripts/rabbitmq.sh start
    scripts/otel-collector.sh build
    scripts/prometheus.sh path >/dev/null
    ;;
  stop) scripts/rabbitmq.sh stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac

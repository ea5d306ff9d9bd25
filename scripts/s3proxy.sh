#!/usr/bin/env bash
# Local S3-compatible server (s3proxy with its filesystem backend) for the S3 object store's integration tests.
# No Docker: the jar-with-dependencies comes from Maven Central once (mvn dependency:copy) into a cache dir.
#
#   scripts/s3proxy.sh start|stop|status|reset
#
# Env (all optional):
#   S3PROXY_VERSION   org.gaul:s3proxy version (default 2.6.0; runs on Java 17)
#   S3PROXY_PORT      listener on 127.0.0.1 (default 9780)
#   S3PROXY_HOME_DIR  cache dir: jar, config, pid, log, data (default ~/.cache/homepot-s3proxy)
#   S3PROXY_IDENTITY / S3PROXY_CREDENTIAL  the access key pair it accepts (default local-identity / local-credential)
#   S3PROXY_START_TIMEOUT  seconds to wait for it to answer (default 60)
set -euo pipefail

VERSION="${S3PROXY_VERSION:-2.6.0}"
HOST=127.0.0.1
PORT="${S3PROXY_PORT:-9780}"
HOME_DIR="${S3PROXY_HOME_DIR:-${HOME:-/tmp}/.cache/homepot-s3proxy}"
JAR="$HOME_DIR/jars/s3proxy-$VERSION-jar-with-dependencies.jar"
RUN_DIR="$HOME_DIR/run"
DATA_DIR="$HOME_DIR/data"
PID_FILE="$RUN_DIR/s3proxy.pid"
CONFIG="$RUN_DIR/s3proxy.conf"
LOG="$RUN_DIR/s3proxy.log"
START_TIMEOUT="${S3PROXY_START_TIMEOUT:-60}"

log() { echo "s3proxy: $*"; }
die() { echo "s3proxy: ERROR: $*" >&2; exit 1; }

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$PORT" 2>/dev/null; }

# PID of our server if alive (pid file + cmdline check guards against pid reuse).
server_pid() {
  local pid
  [[ -f "$PID_FILE" ]] || return 1
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "--properties $CONFIG" || return 1
  echo "$pid"
}

resolve_jar() {
  command -v java >/dev/null || die "java not found (s3proxy $VERSION needs Java 17+)"
  [[ -s "$JAR" ]] && return 0
  command -v mvn >/dev/null || die "mvn not found (needed once to fetch org.gaul:s3proxy:$VERSION)"
  mkdir -p "$(dirname "$JAR")"
  log "fetching org.gaul:s3proxy:$VERSION:jar-with-dependencies from Maven Central"
  mvn -q -B dependency:copy "-Dartifact=org.gaul:s3proxy:$VERSION:jar:jar-with-dependencies" \
    "-DoutputDirectory=$(dirname "$JAR")" -Dmdep.useBaseVersion=true >/dev/null || die "mvn could not fetch the jar"
  [[ -s "$JAR" ]] || die "the jar is not at $JAR after mvn dependency:copy"
}

start() {
  if server_pid >/dev/null; then log "already running (pid $(server_pid)) on $HOST:$PORT"; return 0; fi
  port_open && die "$HOST:$PORT is taken by another process"
  resolve_jar
  mkdir -p "$RUN_DIR" "$DATA_DIR"
  cat >"$CONFIG" <<CONF
s3proxy.endpoint=http://$HOST:$PORT
s3proxy.authorization=aws-v2-or-v4
s3proxy.identity=${S3PROXY_IDENTITY:-local-identity}
s3proxy.credential=${S3PROXY_CREDENTIAL:-local-credential}
jclouds.provider=filesystem
jclouds.filesystem.basedir=$DATA_DIR
CONF
  nohup java -Xms64m -Xmx256m -jar "$JAR" --properties "$CONFIG" >"$LOG" 2>&1 &
  local started=$!
  echo "$started" >"$PID_FILE"
  local waited=0
  until port_open; do
    # The child itself, not server_pid: until it has exec'd java its cmdline is still this script's.
    kill -0 "$started" 2>/dev/null || die "exited while starting; see $LOG:\n$(tail -20 "$LOG")"
    ((waited++ >= START_TIMEOUT)) && die "not answering after ${START_TIMEOUT}s; see $LOG"
    sleep 1
  done
  log "running (pid $(cat "$PID_FILE")) on http://$HOST:$PORT, data in $DATA_DIR"
}

stop() {
  local pid
  if ! pid="$(server_pid)"; then log "not running"; return 0; fi
  kill "$pid"
  for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || { rm -f "$PID_FILE"; log "stopped"; return 0; }; sleep 1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$PID_FILE"
  log "killed"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if pid="$(server_pid)"; then log "running (pid $pid) on http://$HOST:$PORT"; else log "not running"; exit 1; fi ;;
  reset) stop; rm -rf "$DATA_DIR"; log "data removed" ;;
  *) echo "usage: $0 start|stop|status|reset" >&2; exit 2 ;;
esac

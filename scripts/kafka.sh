#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft, combined broker+controller) for integration tests and dev.
# No Docker: the broker runs from Maven Central jars (scripts/kafka/pom.xml), resolved once into a cache.
#
#   scripts/kafka.sh start|stop|restart|status|reset|kill9
#
# Env (all optional):
#   KAFKA_VERSION        org.apache.kafka:kafka_2.13 version (default below; verified with kafkajs 2.2.4)
#   KAFKA_PORT           client listener on 127.0.0.1 (default 9092); controller uses KAFKA_CONTROLLER_PORT
#   KAFKA_CONTROLLER_PORT  (default KAFKA_PORT+1)
#   KAFKA_HOME_DIR       cache dir: jars, config, pid, broker logs (default ~/.cache/homepot-kafka)
#   KAFKA_DATA_DIR       KRaft log/metadata dir, wiped by `reset` (default $KAFKA_HOME_DIR/data)
#   KAFKA_HEAP_OPTS      (default "-Xms256m -Xmx512m")
#   KAFKA_START_TIMEOUT  seconds to wait for readiness (default 90); KAFKA_STOP_TIMEOUT (default 30)
#   KAFKA_EXTRA_CONFIG   extra server.properties lines appended verbatim (newline separated)
#   KAFKA_RUN_DIR        config, pid, logs (default $KAFKA_HOME_DIR/run); set it, with another KAFKA_PORT, to
#                        run a second broker beside the shared one: jars stay shared, data defaults to
#                        $KAFKA_RUN_DIR/data and the lock is taken on $KAFKA_RUN_DIR
#   KAFKA_SECURITY       plaintext (default) or sasl_ssl: the client listener on KAFKA_PORT takes only TLS +
#                        SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512); inter-broker traffic uses a plaintext
#                        listener on 127.0.0.1:KAFKA_PORT+2. sasl_ssl needs:
#   KAFKA_SSL_KEYSTORE_PEM  a PEM file with the broker's PKCS#8 key (unencrypted) and certificate chain
#   KAFKA_SASL_USERS     user:password[,user:password] accepted by every mechanism (SCRAM credentials are
#                        written when the storage is formatted)
#
# Notes:
# - Version: 4.3.1 (latest patch release of the newest 4.x line that has one on Maven Central when
#   this was written). Kafka 4.0 dropped old protocol versions (KIP-896), but kafkajs 2.2.4 negotiates
#   via ApiVersions and still works: scripts/kafka-smoke.mjs (create topic, 1000 msgs acks=-1,
#   consumer group) passes on 4.1.1, 4.3.1 and 4.4.0, as do kafkajs transactions (commit/abort)
#   and admin listGroups/describeGroups/fetchOffsets/describeConfigs/createPartitions/deleteTopics.
#   No fallback to 3.9.x was needed.
# - kafka_2.13 ships no slf4j binding; the pom adds slf4j-api 2.x + log4j-slf4j2-impl and this
#   script writes a log4j2.properties so the broker logs to $KAFKA_HOME_DIR/run/logs/server.log.
# - auto.create.topics.enable=false: tests must create their topics (admin.createTopics).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
POM="$SCRIPT_DIR/kafka/pom.xml"

KAFKA_VERSION="${KAFKA_VERSION:-4.3.1}"
KAFKA_HOST=127.0.0.1
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
HOME_DIR="${KAFKA_HOME_DIR:-${HOME:-/tmp}/.cache/homepot-kafka}"
RUN_DIR="${KAFKA_RUN_DIR:-$HOME_DIR/run}"
if [[ -n "${KAFKA_RUN_DIR:-}" ]]; then DATA_DIR="${KAFKA_DATA_DIR:-$RUN_DIR/data}"; else DATA_DIR="${KAFKA_DATA_DIR:-$HOME_DIR/data}"; fi
JARS_DIR="$HOME_DIR/jars/$KAFKA_VERSION"
SECURITY="${KAFKA_SECURITY:-plaintext}"
LOG_DIR="$RUN_DIR/logs"
PID_FILE="$RUN_DIR/kafka.pid"
CONFIG="$RUN_DIR/server.properties"
LOG4J_CONFIG="$RUN_DIR/log4j2.properties"
HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"

log() { echo "kafka: $*"; }
die() { echo "kafka: ERROR: $*" >&2; exit 1; }

port_open() { # port_open PORT -> 0 if something accepts TCP connections on 127.0.0.1:PORT
  timeout 2 bash -c "exec 3<>/dev/tcp/$KAFKA_HOST/$1" 2>/dev/null
}

alive() { # alive PID -> 0 while the process exists, unless it is only a zombie awaiting its reaper
  kill -0 "$1" 2>/dev/null || return 1
  # After SIGKILL the JVM's main thread turns zombie first; the process still holds its sockets and
  # files until all threads are gone (Threads: 0/1), so only a single-thread zombie counts as dead.
  ! awk '/^State:/ { z = ($2 == "Z") } /^Threads:/ { t = $2 } END { exit !(z && t <= 1) }' \
    "/proc/$1/status" 2>/dev/null
}

# PID of our broker if it is alive (pid file + /proc cmdline check guards against pid reuse).
broker_pid() {
  local pid
  [[ -f "$PID_FILE" ]] || return 1
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka $CONFIG" || return 1
  echo "$pid"
}

resolve_jars() {
  local stamp want
  command -v java >/dev/null || die "java not found (Kafka $KAFKA_VERSION needs Java 17+)"
  want="$KAFKA_VERSION $(sha256sum "$POM" | cut -c1-16)"
  stamp="$JARS_DIR/.resolved"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return 0; fi
  command -v mvn >/dev/null || die "mvn not found (needed once to fetch Kafka jars)"
  log "resolving Kafka $KAFKA_VERSION jars from Maven into $JARS_DIR (one-time)..."
  local tmp="$JARS_DIR.tmp.$$" mvn_log="$HOME_DIR/mvn-resolve.log"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  # Run from $tmp so nothing (target/, etc.) is written into the repo.
  if ! (cd "$tmp" && mvn -B -q -Dstyle.color=never -f "$POM" -Dkafka.version="$KAFKA_VERSION" \
      dependency:copy-dependencies -DoutputDirectory="$tmp" -DincludeScope=runtime) >"$mvn_log" 2>&1; then
    sed 's/\x1b\[[0-9;]*m//g' "$mvn_log" | grep -m 3 '^\[ERROR\] .' >&2 || tail -n 20 "$mvn_log" >&2
    rm -rf "$tmp"
    die "maven could not resolve org.apache.kafka:kafka_2.13:$KAFKA_VERSION (log: $mvn_log)"
  fi
  ls "$tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || { rm -rf "$tmp"; die "no kafka_2.13 jar after resolution"; }
  echo "$want" >"$tmp/.resolved"
  rm -rf "$JARS_DIR"
  mv "$tmp" "$JARS_DIR"
}

# The broker's listeners: one PLAINTEXT listener, or SASL_SSL for clients plus a PLAINTEXT one between brokers.
listener_config() {
  if [[ "$SECURITY" == plaintext ]]; then
    cat <<EOF
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
EOF
    return 0
  fi
  local internal=$((KAFKA_PORT + 2)) plain_users="" pair
  IFS=',' read -ra pairs <<<"$KAFKA_SASL_USERS"
  for pair in "${pairs[@]}"; do plain_users+=" user_${pair%%:*}=\"${pair#*:}\""; done
  cat <<EOF
listeners=SASL_SSL://$KAFKA_HOST:$KAFKA_PORT,INTERNAL://$KAFKA_HOST:$internal,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=SASL_SSL://$KAFKA_HOST:$KAFKA_PORT,INTERNAL://$KAFKA_HOST:$internal
inter.broker.listener.name=INTERNAL
listener.security.protocol.map=SASL_SSL:SASL_SSL,INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required$plain_users;
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PEM
ssl.keystore.location=$KAFKA_SSL_KEYSTORE_PEM
ssl.client.auth=none
EOF
}

check_security() {
  case "$SECURITY" in
    plaintext) ;;
    sasl_ssl)
      [[ -r "${KAFKA_SSL_KEYSTORE_PEM:-}" ]] || die "KAFKA_SECURITY=sasl_ssl needs KAFKA_SSL_KEYSTORE_PEM (a readable PEM key + certificate)"
      [[ "${KAFKA_SASL_USERS:-}" =~ ^[A-Za-z0-9_.-]+:[^,\"]+(,[A-Za-z0-9_.-]+:[^,\"]+)*$ ]] || die "KAFKA_SECURITY=sasl_ssl needs KAFKA_SASL_USERS=user:password[,...]"
      ;;
    *) die "KAFKA_SECURITY must be plaintext or sasl_ssl" ;;
  esac
}

write_config() {
  check_security
  mkdir -p "$RUN_DIR" "$LOG_DIR" "$DATA_DIR"
  cat >"$CONFIG" <<EOF
# Generated by scripts/kafka.sh on each start; edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
$(listener_config)
controller.listener.names=CONTROLLER
log.dirs=$DATA_DIR
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1
group.initial.rebalance.delay.ms=0
# After kill -9 the restarted broker cannot re-register until its old session expires
# (default 9 s); a shorter session makes crash/restart tests ~5 s faster.
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=1000
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
EOF
  if [[ -n "${KAFKA_EXTRA_CONFIG:-}" ]]; then printf '%s\n' "$KAFKA_EXTRA_CONFIG" >>"$CONFIG"; fi

  cat >"$LOG4J_CONFIG" <<EOF
# Generated by scripts/kafka.sh. Broker log: $LOG_DIR/server.log (previous run: server.log.1)
status = warn
# Let Kafka log its own shutdown instead of log4j closing the appender first.
shutdownHook = disable
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = \${sys:homepot.kafka.logfile:-$LOG_DIR/server.log}
appender.file.append = false
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.apache.name = org.apache.kafka
logger.apache.level = INFO
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
}

format_storage() {
  if [[ -f "$DATA_DIR/meta.properties" ]]; then return 0; fi
  local id
  # Kafka cluster ids are 16 random bytes, base64url without padding; must not start with '-'.
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    [[ "$id" != -* ]] && break
  done
  log "formatting $DATA_DIR (cluster id $id)"
  local scram=() pair mech
  if [[ "$SECURITY" == sasl_ssl ]]; then
    IFS=',' read -ra pairs <<<"$KAFKA_SASL_USERS"
    for pair in "${pairs[@]}"; do
      for mech in SCRAM-SHA-256 SCRAM-SHA-512; do scram+=(--add-scram "$mech=[name=${pair%%:*},password=${pair#*:}]"); done
    done
  fi
  if ! java -Xmx256m -Dlog4j2.configurationFile="$LOG4J_CONFIG" -Dhomepot.kafka.logfile="$LOG_DIR/format.log" -cp "$JARS_DIR/*" kafka.tools.StorageTool \
      format --cluster-id "$id" --config "$CONFIG" --ignore-formatted "${scram[@]}" >"$LOG_DIR/format.out" 2>&1; then
    cat "$LOG_DIR/format.out" >&2
    die "storage format failed"
  fi
}

show_logs() {
  local f
  for f in "$LOG_DIR/kafka.out" "$LOG_DIR/server.log"; do
    [[ -s "$f" ]] || continue
    echo "---- tail of $f ----" >&2
    tail -n 30 "$f" >&2
  done
}

wait_ready() { # wait_ready PID
  local pid="$1" deadline=$((SECONDS + START_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! alive "$pid"; then
      show_logs
      rm -f "$PID_FILE"
      die "broker exited during startup (logs: $LOG_DIR)"
    fi
    # "Kafka Server started" is logged by KafkaRaftServer after the broker has caught up with the
    # metadata log and been unfenced, i.e. it can serve produce/fetch/admin requests.
    if grep -q "Kafka Server started" "$LOG_DIR/server.log" 2>/dev/null && port_open "$KAFKA_PORT"; then
      return 0
    fi
    sleep 0.3
  done
  show_logs
  die "broker not ready after ${START_TIMEOUT}s (pid $pid left running: 'scripts/kafka.sh stop' to kill it; logs: $LOG_DIR)"
}

cmd_start() {
  local pid t0=$SECONDS
  if pid="$(broker_pid)"; then
    if port_open "$KAFKA_PORT"; then log "already running (pid $pid) on $KAFKA_HOST:$KAFKA_PORT"; return 0; fi
    log "pid $pid is starting; waiting"
    wait_ready "$pid"
    log "ready on $KAFKA_HOST:$KAFKA_PORT (pid $pid)"
    return 0
  fi
  if port_open "$KAFKA_PORT"; then
    log "something is already answering on $KAFKA_HOST:$KAFKA_PORT (not started by this script); using it"
    return 0
  fi
  if port_open "$KAFKA_CONTROLLER_PORT"; then
    die "controller port $KAFKA_HOST:$KAFKA_CONTROLLER_PORT is in use by another process"
  fi
  resolve_jars
  write_config
  format_storage
  if [[ -f "$LOG_DIR/server.log" ]]; then mv -f "$LOG_DIR/server.log" "$LOG_DIR/server.log.1"; fi
  rm -f "$PID_FILE"
  # setsid: detach from the caller's process group so the broker outlives the calling shell/test runner.
  # shellcheck disable=SC2086,SC2016
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PID_FILE" \
    java -server $HEAP_OPTS -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true -Dlog4j2.configurationFile="$LOG4J_CONFIG" -Dkafka.logs.dir="$LOG_DIR" \
    -cp "$JARS_DIR/*" kafka.Kafka "$CONFIG" </dev/null >"$LOG_DIR/kafka.out" 2>&1 9>&- &
  for _ in $(seq 1 50); do [[ -s "$PID_FILE" ]] && break; sleep 0.1; done
  pid="$(cat "$PID_FILE" 2>/dev/null || true)"
  [[ -n "$pid" ]] || die "failed to launch java (see $LOG_DIR/kafka.out)"
  wait_ready "$pid"
  log "ready on $KAFKA_HOST:$KAFKA_PORT (Kafka $KAFKA_VERSION, pid $pid, $((SECONDS - t0))s, data $DATA_DIR)"
}

cmd_stop() {
  local pid deadline
  if ! pid="$(broker_pid)"; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + STOP_TIMEOUT))
  while alive "$pid" && ((SECONDS < deadline)); do sleep 0.2; done
  if alive "$pid"; then
    log "pid $pid did not exit after ${STOP_TIMEOUT}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    while alive "$pid"; do sleep 0.1; done
  fi
  rm -f "$PID_FILE"
  log "stopped (pid $pid)"
}

cmd_kill9() {
  local pid
  if ! pid="$(broker_pid)"; then log "not running"; return 0; fi
  kill -KILL "$pid" 2>/dev/null || true
  while alive "$pid"; do sleep 0.05; done
  rm -f "$PID_FILE"
  log "killed -9 (pid $pid)"
}

cmd_status() {
  local pid
  if pid="$(broker_pid)"; then
    if port_open "$KAFKA_PORT"; then log "running (pid $pid) on $KAFKA_HOST:$KAFKA_PORT"; return 0; fi
    log "pid $pid alive but $KAFKA_HOST:$KAFKA_PORT not answering (starting?)"
    return 1
  fi
  if port_open "$KAFKA_PORT"; then log "not started by this script, but $KAFKA_HOST:$KAFKA_PORT answers"; return 0; fi
  log "not running"
  return 1
}

cmd_reset() {
  cmd_stop
  [[ -n "$DATA_DIR" && "$DATA_DIR" != "/" ]] || die "refusing to wipe '$DATA_DIR'"
  rm -rf "$DATA_DIR"
  log "wiped $DATA_DIR"
}

lock() { # serialize concurrent start/stop calls (e.g. parallel jest projects) on this cache dir
  local lock_dir="${KAFKA_RUN_DIR:-$HOME_DIR}"
  mkdir -p "$lock_dir"
  exec 9>"$lock_dir/.lock"
  flock -w $((START_TIMEOUT + STOP_TIMEOUT + 120)) 9 || die "timed out waiting for $HOME_DIR/.lock"
}

case "${1:-}" in start | stop | restart | reset | kill9) lock ;; esac
case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop; cmd_start ;;
  status) cmd_status ;;
  reset) cmd_reset ;;
  kill9) cmd_kill9 ;;
  *) echo "usage: $0 start|stop|restart|status|reset|kill9" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Real Kafka (single KRaft node) and Cassandra (single node) for tests and local development,
# run straight from Maven Central jars on the machine's Java 17 (DESIGN.md "Real services for
# tests and local development"; facts in SERVICES.md).
#
#   services.sh fetch                      resolve the jars into the cache (idempotent, offline once cached)
#   services.sh start [kafka|cassandra|all] start and wait until really ready (default: all)
#   services.sh stop  [kafka|cassandra|all] SIGTERM, wait, SIGKILL; no JVM left behind
#   services.sh status                     one line per service
#   services.sh env                        export lines for eval: KAFKA_BROKERS, CASSANDRA_CONTACT
#   services.sh classpath hapi             the HAPI HL7 v2 jars' classpath for test/hl7/hapi (issue 21; fetched when missing)
#   services.sh start|stop|status|env cluster  the 3-broker Kafka + 3-node Cassandra cluster (issue 22, cluster.sh),
#                                          own ports below 20000; one node: start|stop cluster-kafka-N / cluster-cassandra-N
#   services.sh nodetool N ARGS...         nodetool against cluster Cassandra node N (e.g. repair bedside)
#   services.sh start|stop kafka-secure    a separate SASL_SSL Kafka for the security test (never in "all");
#                                          once started, env also exports KAFKA_SECURE_BROKERS, KAFKA_SECURE_TLS_DIR
#   services.sh start|stop registry        Apicurio Registry, Confluent-compatible, in memory (issue 24; never in "all");
#                                          once started, env also exports SCHEMA_REGISTRY_URL
#   services.sh python                     the Python venv of the stock-tools consumer test; prints its python (issue 24)
#
# Environment:
#   BEDSIDE_CACHE         jar cache, outside the repo (default ~/.cache/bedside-hub)
#   BEDSIDE_SERVICES_DIR  state: configs, data, logs, pids, ports (default <repo>/.services)
#   KAFKA_START_TIMEOUT_S / CASSANDRA_START_TIMEOUT_S / REGISTRY_START_TIMEOUT_S  readiness timeouts (90 / 240 / 120)
#
# Ports are picked once, at a service's first start, and kept in the state dir so that
# `stop kafka; start kafka` (the outage tests) comes back on the same address with the same data.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${BEDSIDE_CACHE:-$HOME/.cache/bedside-hub}
M2="$CACHE/m2"
STATE=${BEDSIDE_SERVICES_DIR:-$ROOT/.services}
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd) # configs and argfiles need absolute paths
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java
KAFKA_START_TIMEOUT_S=${KAFKA_START_TIMEOUT_S:-90}
CASSANDRA_START_TIMEOUT_S=${CASSANDRA_START_TIMEOUT_S:-240}
REGISTRY_START_TIMEOUT_S=${REGISTRY_START_TIMEOUT_S:-120}
STOP_GRACE_S=${STOP_GRACE_S:-30}

# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=kafka.sh
source "$HERE/kafka.sh"
# shellcheck source=kafka-secure.sh
source "$HERE/kafka-secure.sh"
# shellcheck source=cassandra.sh
source "$HERE/cassandra.sh"
# shellcheck source=cluster.sh
source "$HERE/cluster.sh"
# shellcheck source=hapi.sh
source "$HERE/hapi.sh"
# shellcheck source=apicurio.sh
source "$HERE/apicurio.sh"
# shellcheck source=python.sh
source "$HERE/python.sh"

services_of() {
  case "${1:-all}" in
    all) echo "kafka cassandra" ;;
    kafka | cassandra | kafka-secure | registry | cluster-kafka-[123] | cluster-cassandra-[123]) echo "$1" ;;
    *) die "unknown service '$1' (kafka, cassandra, kafka-secure, registry, all, cluster, cluster-kafka-N or cluster-cassandra-N)" ;;
  esac
}

cmd_fetch() {
  local svc
  for svc in kafka cassandra hapi; do fetch_classpath "$svc" >/dev/null; done
  apicurio_home >/dev/null
  python_venv >/dev/null
}

# Jars only (no server): the classpath of a test harness.
cmd_classpath() {
  case "${1:-}" in
    hapi) hapi_classpath ;;
    *) die "usage: $0 classpath hapi" ;;
  esac
}

# Launch every requested JVM first, then wait for each: Kafka is ready while Cassandra still boots.
cmd_start() {
  local svc launched=" "
  if [[ "${1:-}" == cluster ]]; then
    cluster_start
    return
  fi
  for svc in $(services_of "${1:-all}"); do
    if is_running "$svc"; then
      say "$svc: already running (pid $(cat "$(pid_file "$svc")"))"
    elif [[ "$svc" == cluster-* ]]; then
      cluster_launch_node "$svc"
      launched+="$svc "
    else
      "${svc}_launch"
      launched+="$svc "
    fi
  done
  for svc in $(services_of "${1:-all}"); do
    wait_ready "$svc" "$([[ "$launched" == *" $svc "* ]] && echo launched)"
  done
}

cmd_stop() {
  local svc
  if [[ "${1:-}" == cluster ]]; then
    cluster_stop
    return
  fi
  for svc in $(services_of "${1:-all}"); do stop_service "$svc"; done
  # "all" also ends a kafka-secure left behind by an interrupted security test (once ever started).
  if [[ "${1:-all}" == all && -f "$(ports_file kafka-secure)" ]] && is_running kafka-secure; then stop_service kafka-secure; fi
  if [[ "${1:-all}" == all && -f "$(ports_file registry)" ]] && is_running registry; then stop_service registry; fi
}

cmd_status() {
  local svc
  if [[ "${1:-}" == cluster ]]; then
    cluster_status
    return
  fi
  for svc in kafka cassandra; do
    if is_running "$svc"; then
      echo "$svc: running pid $(cat "$(pid_file "$svc")") on $(endpoint_of "$svc")"
    elif [[ -f "$(ports_file "$svc")" ]]; then
      echo "$svc: stopped (ports kept: $(endpoint_of "$svc"))"
    else
      echo "$svc: never started"
    fi
  done
  if [[ -f "$(ports_file kafka-secure)" ]]; then
    if is_running kafka-secure; then echo "kafka-secure: running pid $(cat "$(pid_file kafka-secure)") on $(endpoint_of kafka-secure)"; else echo "kafka-secure: stopped"; fi
  fi
  if [[ -f "$(ports_file registry)" ]]; then
    if is_running registry; then echo "registry: running pid $(cat "$(pid_file registry)") on $(endpoint_of registry)"; else echo "registry: stopped"; fi
  fi
}

cmd_env() {
  local printed=0
  if [[ "${1:-}" == cluster ]]; then
    cluster_env
    return
  fi
  if [[ -f "$(ports_file kafka)" ]]; then
    echo "export KAFKA_BROKERS=$(endpoint_of kafka)"
    printed=1
  fi
  if [[ -f "$(ports_file cassandra)" ]]; then
    echo "export CASSANDRA_CONTACT=$(endpoint_of cassandra)"
    printed=1
  fi
  if [[ -f "$(ports_file kafka-secure)" ]]; then
    echo "export KAFKA_SECURE_BROKERS=$(endpoint_of kafka-secure)"
    echo "export KAFKA_SECURE_TLS_DIR=$(svc_dir kafka-secure)/tls"
  fi
  if [[ -f "$(ports_file registry)" ]]; then
    echo "export SCHEMA_REGISTRY_URL=http://$(endpoint_of registry)/apis/ccompat/v7"
  fi
  [[ $printed == 1 ]] || die "no service has been started in $STATE yet (run: $0 start)"
}

require_tools() {
  command -v "$JAVA" >/dev/null || die "java not found (Debian package: openjdk-17-jre-headless, or set JAVA_HOME)"
  command -v node >/dev/null || die "node not found (the readiness probes use kafkajs and cassandra-driver)"
}

main() {
  local command=${1:-}
  shift || true
  [[ "$command" == start ]] && require_tools
  if [[ "$command" == start || "$command" == stop ]]; then
    # One start/stop at a time per state dir: two concurrent starts would launch two JVMs.
    exec 9>"$STATE/services.lock"
    flock -w 300 9 || die "another services.sh start/stop has held $STATE/services.lock for 300 s"
  fi
  case "$command" in
    fetch) cmd_fetch ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    env) cmd_env "$@" ;;
    nodetool) cluster_nodetool "$@" ;;
    classpath) cmd_classpath "$@" ;;
    python) python_venv ;;
    *) die "usage: $0 fetch | start [kafka|cassandra|kafka-secure|registry|all] | stop [...] | status [cluster] | env [cluster] | start|stop cluster | nodetool N ARGS | classpath hapi | python" ;;
  esac
}

main "$@"

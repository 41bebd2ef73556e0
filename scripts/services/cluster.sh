# shellcheck shell=bash
# The cloud tier as a cluster on this one machine (issue 22): a 3-broker KRaft Kafka (each node
# broker + controller, replication factor 3, min.insync.replicas=2, unclean leader election off)
# and a 3-node Cassandra ring on 127.0.0.1, .2 and .3 (Linux routes all of 127/8 to loopback).
# Fixed ports below 20000, so it never collides with the single-node services (which pick theirs in
# 20000-31999) and both run at once:
#   Kafka broker n      127.0.0.1:1909(1+n)   controller 127.0.0.1:1919(1+n)
#   Cassandra node n    127.0.0.n:19042 (CQL), storage 19700, JMX 127.0.0.1:1980n (nodetool)
# Nodes are services named cluster-kafka-N / cluster-cassandra-N, each with its own state dir,
# pid and argfile, so one node can be stopped, SIGKILLed, paused and restarted on its own
# (test/cluster/). Small heaps: Kafka 320 MB, Cassandra 640 MB per node.
# Sourced by services.sh; uses lib.sh and kafka.sh.

CLUSTER_NODES=(1 2 3)
CLUSTER_KAFKA_NODES="cluster-kafka-1 cluster-kafka-2 cluster-kafka-3"
CLUSTER_CASSANDRA_NODES="cluster-cassandra-1 cluster-cassandra-2 cluster-cassandra-3"
CLUSTER_CQL_PORT=19042
CLUSTER_STORAGE_PORT=19700

cluster_kafka_port() { echo $((19091 + $1)); }
cluster_controller_port() { echo $((19191 + $1)); }
cluster_jmx_port() { echo $((19800 + $1)); }
cluster_node_index() { echo "${1##*-}"; }

cluster_kafka_brokers() {
  local n out=""
  for n in "${CLUSTER_NODES[@]}"; do out+="${out:+,}127.0.0.1:$(cluster_kafka_port "$n")"; done
  echo "$out"
}

cluster_cassandra_contacts() {
  local n out=""
  for n in "${CLUSTER_NODES[@]}"; do out+="${out:+,}127.0.0.$n:$CLUSTER_CQL_PORT"; done
  echo "$out"
}

# The cluster id is shared by the three brokers: written once, reused by every format.
cluster_kafka_id() {
  local file="$STATE/cluster-kafka.id"
  [[ -s "$file" ]] || new_cluster_id >"$file"
  cat "$file"
}

cluster_kafka_write_config() {
  local svc=$1 n=$2 dir=$3 cp_file=$4 voters="" v
  for v in "${CLUSTER_NODES[@]}"; do voters+="${voters:+,}$v@127.0.0.1:$(cluster_controller_port "$v")"; done
  # RF 3 with min.insync.replicas=2: an acks=all write survives one broker down and is refused
  # (NOT_ENOUGH_REPLICAS, retried by the agent) rather than accepted by a lone replica with two
  # down. Unclean election off: an out-of-sync replica never becomes leader and drops acked data.
  cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$(cluster_kafka_port "$n"),CONTROLLER://127.0.0.1:$(cluster_controller_port "$n")
advertised.listeners=PLAINTEXT://127.0.0.1:$(cluster_kafka_port "$n")
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=6
default.replication.factor=3
min.insync.replicas=2
unclean.leader.election.enable=false
offsets.topic.replication.factor=3
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=3
transaction.state.log.min.isr=2
transaction.state.log.num.partitions=3
share.coordinator.state.topic.replication.factor=3
share.coordinator.state.topic.min.isr=2
share.coordinator.state.topic.num.partitions=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
num.network.threads=2
num.io.threads=2
num.replica.fetchers=1
num.recovery.threads.per.data.dir=1
log.retention.hours=24
PROPS
  kafka_log4j2 "$dir" "$svc" 20MB
  {
    echo "-Xms320m"
    echo "-Xmx320m"
    echo "-XX:MaxGCPauseMillis=20"
    kafka_jvm_common "$dir" "$cp_file"
  } >"$(jvm_args_file "$svc")"
}

cluster_kafka_launch() {
  local svc=$1 n dir cp_file
  n=$(cluster_node_index "$svc")
  dir=$(svc_dir "$svc")
  cp_file=$(fetch_classpath kafka)
  mkdir -p "$dir/data" "$dir/logs"
  printf 'ENDPOINT=127.0.0.1:%s\n' "$(cluster_kafka_port "$n")" >"$(ports_file "$svc")"
  cluster_kafka_write_config "$svc" "$n" "$dir" "$cp_file"
  if [[ ! -f "$dir/data/meta.properties" ]]; then
    "$JAVA" "@$(jvm_args_file "$svc")" kafka.tools.StorageTool format --ignore-formatted \
      -t "$(cluster_kafka_id)" -c "$dir/server.properties" >>"$dir/logs/format.log" 2>&1 ||
      die "$svc: storage format failed (log: $dir/logs/format.log)"
  fi
  launch_jvm "$svc" kafka.Kafka "$dir/server.properties"
}

cluster_cassandra_write_config() {
  local svc=$1 n=$2 dir=$3 cp_file=$4
  # num_tokens 16 with token allocation for RF 3 (the 5.0 default): even ownership with few
  # tokens. Hinted handoff on (a node that was down gets its writes replayed when it is back).
  cat >"$dir/cassandra.yaml" <<YAML
cluster_name: bedside-hub-cluster
num_tokens: 16
allocate_tokens_for_local_replication_factor: 3
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1:$CLUSTER_STORAGE_PORT"
listen_address: 127.0.0.$n
rpc_address: 127.0.0.$n
storage_port: $CLUSTER_STORAGE_PORT
native_transport_port: $CLUSTER_CQL_PORT
start_native_transport: true
data_file_directories:
  - $dir/data/data
commitlog_directory: $dir/data/commitlog
saved_caches_directory: $dir/data/saved_caches
hints_directory: $dir/data/hints
cdc_raw_directory: $dir/data/cdc_raw
commitlog_sync: periodic
commitlog_sync_period: 10000ms
hinted_handoff_enabled: true
max_hint_window: 3h
auto_snapshot: false
concurrent_compactors: 1
concurrent_reads: 8
concurrent_writes: 16
concurrent_counter_writes: 4
memtable_heap_space: 96MiB
memtable_offheap_space: 96MiB
key_cache_size: 8MiB
YAML
  cassandra_logback "$dir" 20MB
  # Bootstrap waits one ring delay (30 s) to learn the ring; 5 s is plenty on loopback.
  # JMX on loopback only, one port per node: nodetool (repair, status) needs it.
  cassandra_jvm_options "$dir" 640m 128m "$cp_file" \
    -XX:ActiveProcessorCount=1 -Dcassandra.ring_delay_ms=5000 "-Dcassandra.jmx.local.port=$(cluster_jmx_port "$n")" \
    >"$(jvm_args_file "$svc")"
}

cluster_cassandra_launch() {
  local svc=$1 n dir cp_file
  n=$(cluster_node_index "$svc")
  dir=$(svc_dir "$svc")
  cp_file=$(fetch_classpath cassandra)
  mkdir -p "$dir/data" "$dir/logs"
  printf 'ENDPOINT=127.0.0.%s:%s\n' "$n" "$CLUSTER_CQL_PORT" >"$(ports_file "$svc")"
  cluster_cassandra_write_config "$svc" "$n" "$dir" "$cp_file"
  launch_jvm "$svc" org.apache.cassandra.service.CassandraDaemon
}

cluster_launch_node() {
  case "$1" in
    cluster-kafka-[123]) cluster_kafka_launch "$1" ;;
    cluster-cassandra-[123]) cluster_cassandra_launch "$1" ;;
    *) die "unknown cluster node '$1'" ;;
  esac
}

# Brokers all at once (the controller quorum needs a majority to elect a leader); Cassandra nodes
# one after another (a joining node must see the previous ones settled to take its tokens).
cluster_start() {
  local svc launched=" "
  for svc in $CLUSTER_KAFKA_NODES; do
    if is_running "$svc"; then say "$svc: already running"; else cluster_launch_node "$svc"; launched+="$svc "; fi
  done
  for svc in $CLUSTER_KAFKA_NODES; do wait_ready "$svc" "$([[ "$launched" == *" $svc "* ]] && echo launched)"; done
  for svc in $CLUSTER_CASSANDRA_NODES; do
    if is_running "$svc"; then say "$svc: already running"; continue; fi
    cluster_launch_node "$svc"
    wait_ready "$svc" launched
  done
}

cluster_stop() {
  local svc
  for svc in $CLUSTER_KAFKA_NODES $CLUSTER_CASSANDRA_NODES; do stop_service "$svc"; done
}

cluster_status() {
  local svc
  for svc in $CLUSTER_KAFKA_NODES $CLUSTER_CASSANDRA_NODES; do
    if is_running "$svc"; then
      echo "$svc: running pid $(cat "$(pid_file "$svc")") on $(endpoint_of "$svc")"
    elif [[ -f "$(ports_file "$svc")" ]]; then
      echo "$svc: stopped ($(endpoint_of "$svc"))"
    fi
  done
}

cluster_env() {
  echo "export CLUSTER_KAFKA_BROKERS=$(cluster_kafka_brokers)"
  echo "export CLUSTER_CASSANDRA_CONTACT=$(cluster_cassandra_contacts)"
  echo "export CLUSTER_STATE_DIR=$STATE"
}

# nodetool against node N over its loopback JMX port, e.g. `services.sh nodetool 1 repair bedside`.
cluster_nodetool() {
  local n=$1
  shift
  local args
  mapfile -t args < <(cassandra_jdk17_flags)
  "$JAVA" -Xmx128m "${args[@]}" -Dcassandra.logdir="$(svc_dir "cluster-cassandra-$n")/logs" -cp "$(tr -d '\n' <"$(fetch_classpath cassandra)")" \
    org.apache.cassandra.tools.NodeTool -h 127.0.0.1 -p "$(cluster_jmx_port "$n")" "$@"
}

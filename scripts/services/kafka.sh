# shellcheck shell=bash
# Kafka: one KRaft node acting as broker and controller (SERVICES.md "Kafka").
# Sourced by services.sh; uses lib.sh.

# Storage and internal-topic settings of a one-broker cluster, shared by the plain and the secured
# Kafka: replication factors of 1 everywhere, single-partition internal topics (a quick first
# consumer-group join on 2 cores), few threads.
kafka_single_node_props() {
  local dir=$1 threads=$2
  cat <<PROPS
log.dirs=$dir/data
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
share.coordinator.state.topic.num.partitions=1
group.initial.rebalance.delay.ms=0
num.network.threads=$threads
num.io.threads=$threads
num.recovery.threads.per.data.dir=1
log.retention.hours=24
PROPS
}

# JVM arguments shared by the plain and the secured Kafka (heap sizes are set by each).
# The broker's log4j2.properties in node dir $1 for service $2: server.log rolling at size $3, two kept.
kafka_log4j2() {
  local dir=$1 svc=$2 max=$3
  cat >"$dir/log4j2.properties" <<PROPS
status = warn
name = bedside-services-$svc
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = $dir/logs/server.log
appender.file.filePattern = $dir/logs/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = $max
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 2
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
PROPS
}

kafka_jvm_common() {
  local dir=$1 cp_file=$2
  echo "-XX:+UseG1GC"
  echo "-XX:+ExitOnOutOfMemoryError"
  echo "-XX:+PerfDisableSharedMem"
  echo "-Djava.awt.headless=true"
  echo "-Dlog4j2.configurationFile=$dir/log4j2.properties"
  # Kafka's own shutdown hook logs the clean shutdown; Log4j's would close the file first.
  echo "-Dlog4j2.shutdownHookEnabled=false"
  echo "-Dkafka.logs.dir=$dir/logs"
  echo "-cp"
  tr -d '\n' <"$cp_file"
  echo
}

kafka_write_config() {
  local dir=$1 cp_file=$2
  # Replication factors of 1 everywhere: one broker. Single-partition internal topics keep the
  # first consumer-group join quick on 2 cores.
  cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
PROPS
  kafka_single_node_props "$dir" 2 >>"$dir/server.properties"

  kafka_log4j2 "$dir" kafka 50MB

  {
    echo "-Xms512m"
    echo "-Xmx512m"
    echo "-XX:MaxGCPauseMillis=20"
    kafka_jvm_common "$dir" "$cp_file"
  } >"$(jvm_args_file kafka)"
}

# Formats the storage once; the cluster id is 16 random bytes in Kafka's base64url Uuid form.
kafka_format() {
  local dir=$1 cluster_id
  [[ -f "$dir/data/meta.properties" ]] && return 0
  cluster_id=$(new_cluster_id)
  if ! "$JAVA" "@$(jvm_args_file kafka)" kafka.tools.StorageTool format --ignore-formatted \
    -t "$cluster_id" -c "$dir/server.properties" >>"$dir/logs/format.log" 2>&1; then
    tail -n 30 "$dir/logs/format.log" >&2
    die "kafka: storage format failed (log: $dir/logs/format.log)"
  fi
}

kafka_launch() {
  local dir cp_file
  dir=$(svc_dir kafka)
  cp_file=$(fetch_classpath kafka)
  mkdir -p "$dir/data" "$dir/logs"
  ensure_ports kafka KAFKA_PORT KAFKA_PORT KAFKA_CONTROLLER_PORT
  # shellcheck disable=SC1090
  source "$(ports_file kafka)"
  kafka_write_config "$dir" "$cp_file"
  kafka_format "$dir"
  launch_jvm kafka kafka.Kafka "$dir/server.properties"
}

# shellcheck shell=bash
# Cassandra: one node, the CQL stand-in for ScyllaDB (SERVICES.md "Cassandra").
# Sourced by services.sh; uses lib.sh.

cassandra_write_config() {
  local dir=$1 cp_file=$2
  cat >"$dir/cassandra.yaml" <<YAML
cluster_name: bedside-hub-test
num_tokens: 1
partitioner: org.apache.cassandra.dht.Murmur3Partitioner
endpoint_snitch: SimpleSnitch
seed_provider:
  - class_name: org.apache.cassandra.locator.SimpleSeedProvider
    parameters:
      - seeds: "127.0.0.1:$CASSANDRA_STORAGE_PORT"
listen_address: 127.0.0.1
rpc_address: 127.0.0.1
storage_port: $CASSANDRA_STORAGE_PORT
native_transport_port: $CASSANDRA_CQL_PORT
start_native_transport: true
data_file_directories:
  - $dir/data/data
commitlog_directory: $dir/data/commitlog
saved_caches_directory: $dir/data/saved_caches
hints_directory: $dir/data/hints
cdc_raw_directory: $dir/data/cdc_raw
commitlog_sync: periodic
commitlog_sync_period: 10000ms
auto_snapshot: false
concurrent_compactors: 1
YAML

  cassandra_logback "$dir" 50MB
  cassandra_jvm_options "$dir" 1g 256m "$cp_file" >"$(jvm_args_file cassandra)"
}

# The server's logback.xml in node dir $1: system.log rolling at size $2 (e.g. 50MB), two kept.
cassandra_logback() {
  local dir=$1 max=$2
  cat >"$dir/logback.xml" <<XML
<configuration scan="false">
  <appender name="FILE" class="ch.qos.logback.core.rolling.RollingFileAppender">
    <file>$dir/logs/system.log</file>
    <rollingPolicy class="ch.qos.logback.core.rolling.FixedWindowRollingPolicy">
      <fileNamePattern>$dir/logs/system.log.%i</fileNamePattern>
      <minIndex>1</minIndex>
      <maxIndex>2</maxIndex>
    </rollingPolicy>
    <triggeringPolicy class="ch.qos.logback.core.rolling.SizeBasedTriggeringPolicy">
      <maxFileSize>$max</maxFileSize>
    </triggeringPolicy>
    <encoder><pattern>%-5level [%thread] %date{ISO8601} %logger{30} - %msg%n</pattern></encoder>
  </appender>
  <root level="INFO"><appender-ref ref="FILE"/></root>
</configuration>
XML
}

# The JVM arguments of a Cassandra node (one per line, for launch_jvm): node dir $1, heap $2,
# young generation $3, classpath file $4; any further arguments are extra JVM options.
cassandra_jvm_options() {
  local dir=$1 heap=$2 young=$3 cp_file=$4 jamm opt
  shift 4
  jamm=$(tr ':' '\n' <"$cp_file" | grep '/jamm-[^/]*\.jar$' | head -n 1)
  echo "-Xms$heap"
  echo "-Xmx$heap"
  echo "-Xmn$young"
  echo "-Xss256k"
  echo "-XX:+UseG1GC"
  echo "-XX:+ParallelRefProcEnabled"
  echo "-XX:MaxTenuringThreshold=1"
  echo "-XX:+ExitOnOutOfMemoryError"
  echo "-XX:+PerfDisableSharedMem"
  echo "-Djava.net.preferIPv4Stack=true"
  [[ -n "$jamm" ]] && echo "-javaagent:$jamm"
  echo "-Dcassandra.config=file://$dir/cassandra.yaml"
  echo "-Dcassandra.storagedir=$dir/data"
  echo "-Dcassandra.logdir=$dir/logs"
  echo "-Dcassandra-foreground=yes"
  echo "-Dlogback.configurationFile=file://$dir/logback.xml"
  echo "-Dcassandra.skip_wait_for_gossip_to_settle=0"
  for opt in "$@"; do echo "$opt"; done
  cassandra_jdk17_flags
  echo "-cp"
  tr -d '\n' <"$cp_file"
  echo
}

# Cassandra 5.0 conf/jvm17-server.options, JPMS and Netty parts: the server reaches into
# JDK internals (Unsafe, direct buffers, reflection on java.base) and fails without them.
cassandra_jdk17_flags() {
  cat <<'FLAGS'
-Djdk.attach.allowAttachSelf=true
-Dio.netty.tryReflectionSetAccessible=true
-Dio.netty.allocator.useCacheForAllThreads=true
-Dio.netty.allocator.maxOrder=11
--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED
--add-exports=java.base/jdk.internal.ref=ALL-UNNAMED
--add-exports=java.base/sun.nio.ch=ALL-UNNAMED
--add-exports=java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED
--add-exports=java.rmi/sun.rmi.server=ALL-UNNAMED
--add-exports=java.sql/java.sql=ALL-UNNAMED
--add-exports=java.base/java.lang.ref=ALL-UNNAMED
--add-exports=jdk.unsupported/sun.misc=ALL-UNNAMED
--add-exports=jdk.attach/sun.tools.attach=ALL-UNNAMED
--add-opens=java.base/java.lang.module=ALL-UNNAMED
--add-opens=java.base/jdk.internal.loader=ALL-UNNAMED
--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED
--add-opens=java.base/jdk.internal.reflect=ALL-UNNAMED
--add-opens=java.base/jdk.internal.math=ALL-UNNAMED
--add-opens=java.base/jdk.internal.module=ALL-UNNAMED
--add-opens=java.base/jdk.internal.util.jar=ALL-UNNAMED
--add-opens=jdk.management/com.sun.management.internal=ALL-UNNAMED
--add-opens=java.base/sun.nio.ch=ALL-UNNAMED
--add-opens=java.base/java.io=ALL-UNNAMED
--add-opens=java.base/java.nio=ALL-UNNAMED
--add-opens=java.base/java.util.concurrent=ALL-UNNAMED
--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED
--add-opens=java.base/java.util=ALL-UNNAMED
--add-opens=java.base/java.lang=ALL-UNNAMED
--add-opens=java.base/java.lang.reflect=ALL-UNNAMED
--add-opens=java.base/java.math=ALL-UNNAMED
--add-opens=java.base/java.net=ALL-UNNAMED
FLAGS
}

cassandra_launch() {
  local dir cp_file
  dir=$(svc_dir cassandra)
  cp_file=$(fetch_classpath cassandra)
  mkdir -p "$dir/data" "$dir/logs"
  ensure_ports cassandra CASSANDRA_CQL_PORT CASSANDRA_CQL_PORT CASSANDRA_STORAGE_PORT
  # shellcheck disable=SC1090
  source "$(ports_file cassandra)"
  cassandra_write_config "$dir" "$cp_file"
  launch_jvm cassandra org.apache.cassandra.service.CassandraDaemon
}

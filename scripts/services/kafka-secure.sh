# shellcheck shell=bash
# kafka-secure: a second, small KRaft Kafka with one SASL_SSL listener (TLS with client
# certificates required, SASL/SCRAM-SHA-512), for the agent's Kafka security test (issue 7).
# Its own state dir and ports; started only on request (`services.sh start kafka-secure`), never by
# `start all`. SCRAM users can only be added at storage format time (StorageTool --add-scram) without
# a running cluster, hence a separate instance rather than a second listener on the shared broker.
# Keys and certificates are generated at first start into <state>/kafka-secure/tls (mode 0700),
# never into the repository:
#   tls/ca.pem                 CA that signed the broker and the client certificates
#   tls/client.pem, client.key client certificate (CN=bedside-hub) and its key
#   tls/sasl-user, sasl-password  the SCRAM-SHA-512 user of the agent
# Sourced by services.sh; uses lib.sh.

kafka_secure_tls() {
  local dir=$1 tls=$1/tls pw
  [[ -s "$tls/client.key" ]] && return 0
  command -v openssl >/dev/null || die "kafka-secure: openssl not found"
  command -v keytool >/dev/null || die "kafka-secure: keytool not found (part of the JRE)"
  rm -rf "$tls"
  mkdir -p "$tls"
  chmod 700 "$tls"
  pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
  echo "$pw" >"$tls/store-password"
  echo bedside >"$tls/sasl-user"
  head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$tls/sasl-password"
  (
    cd "$tls"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 -subj '/CN=bedside-test-ca' 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >broker.ext
    openssl req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr -subj '/CN=localhost' 2>/dev/null
    openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out broker.pem -days 30 -extfile broker.ext 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj '/CN=bedside-hub' 2>/dev/null
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 30 2>/dev/null
    openssl pkcs12 -export -in broker.pem -inkey broker.key -certfile ca.pem -name broker -out broker.p12 -passout "pass:$pw"
    keytool -importcert -noprompt -alias ca -file ca.pem -keystore truststore.p12 -storetype PKCS12 -storepass "$pw" >/dev/null 2>&1
    rm -f broker.csr client.csr broker.ext
    chmod 600 -- *
  ) || die "kafka-secure: certificate generation failed"
}

kafka_secure_write_config() {
  local dir=$1 cp_file=$2 pw
  pw=$(cat "$dir/tls/store-password")
  # INTERNAL (plaintext, loopback) carries only the broker's own inter-broker traffic.
  cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_SECURE_CONTROLLER_PORT
listeners=SASL_SSL://127.0.0.1:$KAFKA_SECURE_PORT,INTERNAL://127.0.0.1:$KAFKA_SECURE_INTERNAL_PORT,CONTROLLER://127.0.0.1:$KAFKA_SECURE_CONTROLLER_PORT
advertised.listeners=SASL_SSL://127.0.0.1:$KAFKA_SECURE_PORT,INTERNAL://127.0.0.1:$KAFKA_SECURE_INTERNAL_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=INTERNAL
listener.security.protocol.map=CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PKCS12
ssl.keystore.location=$dir/tls/broker.p12
ssl.keystore.password=$pw
ssl.key.password=$pw
ssl.truststore.type=PKCS12
ssl.truststore.location=$dir/tls/truststore.p12
ssl.truststore.password=$pw
ssl.client.auth=required
PROPS
  kafka_single_node_props "$dir" 1 >>"$dir/server.properties"
  kafka_secure_log4j "$dir"
  {
    echo "-Xms256m"
    echo "-Xmx256m"
    kafka_jvm_common "$dir" "$cp_file"
  } >"$(jvm_args_file kafka-secure)"
}

kafka_secure_log4j() {
  cat >"$1/log4j2.properties" <<PROPS
status = warn
name = bedside-services-kafka-secure
appender.file.type = File
appender.file.name = file
appender.file.fileName = $1/logs/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
PROPS
}

# Format with the agent's SCRAM user (the only way to create one without a running cluster).
kafka_secure_format() {
  local dir=$1 cluster_id
  [[ -f "$dir/data/meta.properties" ]] && return 0
  cluster_id=$(new_cluster_id)
  if ! "$JAVA" "@$(jvm_args_file kafka-secure)" kafka.tools.StorageTool format --ignore-formatted \
    -t "$cluster_id" -c "$dir/server.properties" \
    --add-scram "SCRAM-SHA-512=[name=$(cat "$dir/tls/sasl-user"),password=$(cat "$dir/tls/sasl-password")]" \
    >>"$dir/logs/format.log" 2>&1; then
    tail -n 30 "$dir/logs/format.log" >&2
    die "kafka-secure: storage format failed (log: $dir/logs/format.log)"
  fi
}

kafka-secure_launch() {
  local dir cp_file
  dir=$(svc_dir kafka-secure)
  cp_file=$(fetch_classpath kafka)
  mkdir -p "$dir/data" "$dir/logs"
  ensure_ports kafka-secure KAFKA_SECURE_PORT KAFKA_SECURE_PORT KAFKA_SECURE_INTERNAL_PORT KAFKA_SECURE_CONTROLLER_PORT
  # shellcheck disable=SC1090
  source "$(ports_file kafka-secure)"
  kafka_secure_tls "$dir"
  kafka_secure_write_config "$dir" "$cp_file"
  kafka_secure_format "$dir"
  launch_jvm kafka-secure kafka.Kafka "$dir/server.properties"
}

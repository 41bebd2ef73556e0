# shellcheck shell=bash
# Apicurio Registry 2.6.13.Final (issue 24): a real Confluent-compatible schema registry for the
# wire-format tests, in-memory storage, one JVM on 127.0.0.1. Service name `registry`; never part
# of `all` (the tests that need it start it, like kafka-secure). Its API for Confluent clients is
# http://127.0.0.1:<port>/apis/ccompat/v7 (what `env` exports as SCHEMA_REGISTRY_URL).
# Why this version and not 3.x: apicurio/pom.xml. Sourced by services.sh; uses lib.sh.

# Unpacks the registry's packaged application (runner jar + lib/) once into the cache; prints its dir.
apicurio_home() {
  local cp_file archive home tmp
  cp_file=$(fetch_classpath apicurio)
  archive=$(tr -d '\n' <"$cp_file")
  home="$CACHE/apicurio/$(basename "$archive" .tar.gz)"
  if [[ ! -d "$home" ]]; then
    tmp="$home.tmp.$$"
    mkdir -p "$tmp"
    tar xzf "$archive" -C "$tmp" || { rm -rf "$tmp"; die "registry: cannot unpack $archive"; }
    mv "$tmp" "$home"
  fi
  echo "$home"
}

registry_launch() {
  local dir home runner
  dir=$(svc_dir registry)
  home=$(apicurio_home)
  runner=$(find "$home" -maxdepth 1 -name '*-runner.jar' | head -n 1)
  [[ -n "$runner" ]] || die "registry: no runner jar in $home"
  mkdir -p "$dir/logs"
  ensure_ports registry REGISTRY_PORT REGISTRY_PORT
  # shellcheck disable=SC1090
  source "$(ports_file registry)"
  # Small heap and C1 only: a test registry holds a handful of schemas, and starts faster so.
  {
    echo "-Xms64m"
    echo "-Xmx256m"
    echo "-XX:+UseSerialGC"
    echo "-XX:TieredStopAtLevel=1"
    echo "-XX:+ExitOnOutOfMemoryError"
    echo "-Djava.awt.headless=true"
    echo "-Dquarkus.http.host=127.0.0.1"
    echo "-Dquarkus.http.port=$REGISTRY_PORT"
    echo "-Dquarkus.log.level=WARN"
    echo "-Dquarkus.log.category.\"io.quarkus\".level=INFO"
    echo "-cp"
    echo "$runner"
  } >"$(jvm_args_file registry)"
  # The runner jar's manifest lists lib/ (relative to the jar) and names the Quarkus main class.
  launch_jvm registry io.quarkus.runner.GeneratedMain
}

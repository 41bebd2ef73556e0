# shellcheck shell=bash
# Shared pieces of services.sh: jar fetching, ports, JVM launch, readiness wait, stop.
# Sourced by services.sh, which sets HERE, CACHE, M2, STATE, JAVA and the timeouts.

die() {
  echo "services: $*" >&2
  exit 1
}

say() { echo "services: $*" >&2; }

svc_dir() { echo "$STATE/$1"; }
pid_file() { echo "$STATE/$1/$1.pid"; }
ports_file() { echo "$STATE/$1/ports.env"; }
# The argfile path is unique to this state dir, so it identifies our JVMs and no one else's.
jvm_args_file() { echo "$STATE/$1/jvm.args"; }

endpoint_of() {
  (
    # shellcheck disable=SC1090
    source "$(ports_file "$1")"
    echo "$ENDPOINT"
  )
}

now_s() { date +%s; }
# Milliseconds since the epoch, for the start-up figures (bash 5 EPOCHREALTIME, no fork).
now_ms() {
  local t=${EPOCHREALTIME/./}
  echo $((t / 1000))
}

# --- jars -------------------------------------------------------------------------------

classpath_complete() {
  local jar
  [[ -s "$1" ]] || return 1
  while IFS= read -r -d ':' jar; do
    [[ -f "$jar" ]] || return 1
  done < <(tr -d '\n' <"$1"; printf ':')
}

# Prints the path of a file holding the runtime classpath of scripts/services/<svc>/pom.xml.
# Keyed by the POM's hash: a changed POM resolves again, an unchanged one never calls Maven.
fetch_classpath() {
  local svc=$1 pom="$HERE/$1/pom.xml" key cp_file tmp started
  key=$(sha256sum "$pom" | cut -c1-16)
  cp_file="$CACHE/classpath/$svc-$key.txt"
  if classpath_complete "$cp_file"; then
    echo "$cp_file"
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found (Debian package: maven)"
  mkdir -p "$CACHE/classpath" "$M2"
  tmp="$cp_file.tmp.$$"
  started=$(now_s)
  say "$svc: resolving jars into $M2 (first run downloads them)"
  if ! mvn -B -q -f "$pom" -Dmaven.repo.local="$M2" \
    dependency:build-classpath -Dmdep.includeScope=runtime -Dmdep.outputFile="$tmp" \
    >"$CACHE/classpath/$svc-mvn.log" 2>&1; then
    tail -n 40 "$CACHE/classpath/$svc-mvn.log" >&2
    rm -f "$tmp"
    die "$svc: maven could not resolve $pom (log: $CACHE/classpath/$svc-mvn.log)"
  fi
  mv "$tmp" "$cp_file"
  classpath_complete "$cp_file" || die "$svc: classpath lists missing jars: $cp_file"
  say "$svc: jars resolved in $(($(now_s) - started)) s"
  echo "$cp_file"
}

# --- ports ------------------------------------------------------------------------------

# ensure_ports SVC ENDPOINT_VAR NAME...: picks free ports once and keeps them in ports.env.
ensure_ports() {
  local svc=$1 endpoint_var=$2 file ports names i
  shift 2
  names=("$@")
  file=$(ports_file "$svc")
  [[ -f "$file" ]] && return 0
  mapfile -t ports < <(node "$HERE/probe.mjs" ports "${#names[@]}")
  [[ ${#ports[@]} == "${#names[@]}" ]] || die "$svc: cannot pick free ports"
  for ((i = 0; i < ${#names[@]}; i++)); do
    echo "${names[$i]}=${ports[$i]}"
    [[ "${names[$i]}" == "$endpoint_var" ]] && echo "ENDPOINT=127.0.0.1:${ports[$i]}"
  done >"$file.tmp"
  mv "$file.tmp" "$file"
}

# --- processes --------------------------------------------------------------------------

pid_alive() { [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null; }

# Every live process whose command line names this service's argfile (main JVM or a tool run).
find_jvms() {
  local f pid
  # "[@]" keeps grep's own command line (which holds the pattern) from matching.
  while IFS= read -r f; do
    pid=${f#/proc/}
    echo "${pid%/cmdline}"
  done < <(grep -la -- "[@]$(jvm_args_file "$1")" /proc/[0-9]*/cmdline 2>/dev/null)
}

is_running() {
  local file pid
  file=$(pid_file "$1")
  [[ -f "$file" ]] || return 1
  pid=$(cat "$file")
  pid_alive "$pid" || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "@$(jvm_args_file "$1")"
}

# launch_jvm SVC MAIN_CLASS ARGS...: detached from the caller's session and terminal, so the
# caller's exit or Ctrl-C does not take it down; stop_service is the way to end it.
launch_jvm() {
  local svc=$1 dir pidf
  shift
  dir=$(svc_dir "$svc")
  pidf=$(pid_file "$svc")
  rm -f "$pidf"
  # shellcheck disable=SC2016 # $$ and $@ belong to the inner shell, which execs the JVM
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidf" "$JAVA" "@$(jvm_args_file "$svc")" "$@" \
    >>"$dir/logs/stdout.log" 2>&1 </dev/null 9>&- &
  local waited=0
  until [[ -s "$pidf" ]]; do
    sleep 0.05
    waited=$((waited + 1))
    ((waited < 200)) || die "$svc: JVM did not start (see $dir/logs/stdout.log)"
  done
  now_ms >"$dir/launched_at_ms"
  say "$svc: started pid $(cat "$pidf") on $(endpoint_of "$svc")"
}

print_log_tail() {
  local svc=$1 log
  for log in "$(svc_dir "$svc")/logs/$(main_log_name "$svc")" "$(svc_dir "$svc")/logs/stdout.log"; do
    [[ -s "$log" ]] || continue
    if grep -qE '(^|\] )(ERROR|FATAL)' "$log"; then
      echo "----- last errors in $log -----" >&2
      grep -E '(^|\] )(ERROR|FATAL)' "$log" | tail -n 5 | cut -c1-400 >&2
    fi
    echo "----- last lines of $log -----" >&2
    tail -n 30 "$log" >&2
  done
}

main_log_name() {
  case "$1" in
    kafka | kafka-secure | cluster-kafka-*) echo server.log ;;
    cassandra | cluster-cassandra-*) echo system.log ;;
    registry) echo stdout.log ;;
  esac
}

since_launch() {
  local file
  file="$(svc_dir "$1")/launched_at_ms"
  [[ -s "$file" ]] || return 0
  local ms=$(($(now_ms) - $(cat "$file")))
  printf '%d.%01d s after JVM launch' $((ms / 1000)) $((ms % 1000 / 100))
}

# wait_ready SVC [launched]: waits until the service answers a real client request, the JVM
# dies, or the timeout passes. "launched" adds the time since this run launched the JVM.
wait_ready() {
  local svc=$1 timeout_s start pid reason
  case "$svc" in
    kafka | kafka-secure | cluster-kafka-*) timeout_s=$KAFKA_START_TIMEOUT_S ;;
    cassandra | cluster-cassandra-*) timeout_s=$CASSANDRA_START_TIMEOUT_S ;;
    registry) timeout_s=$REGISTRY_START_TIMEOUT_S ;;
  esac
  start=$(now_s)
  pid=$(cat "$(pid_file "$svc")")
  while true; do
    if ! pid_alive "$pid"; then
      print_log_tail "$svc"
      die "$svc: JVM (pid $pid) exited before becoming ready"
    fi
    if reason=$(node "$HERE/probe.mjs" "$svc" "$(endpoint_of "$svc")" "$(svc_dir "$svc")" 2>&1); then
      say "$svc: ready on $(endpoint_of "$svc")${2:+ $(since_launch "$svc")}"
      return 0
    fi
    if (($(now_s) - start >= timeout_s)); then
      print_log_tail "$svc"
      stop_service "$svc"
      die "$svc: not ready after ${timeout_s} s (last probe: $reason)"
    fi
    sleep 1
  done
}

# SIGTERM (clean shutdown), wait up to STOP_GRACE_S, then SIGKILL; returns once no JVM is left.
stop_service() {
  local svc=$1 pids=() pid start
  if is_running "$svc"; then pids+=("$(cat "$(pid_file "$svc")")"); fi
  for pid in $(find_jvms "$svc"); do
    [[ " ${pids[*]} " == *" $pid "* ]] || pids+=("$pid")
  done
  if ((${#pids[@]} == 0)); then
    rm -f "$(pid_file "$svc")"
    say "$svc: not running"
    return 0
  fi
  start=$(now_s)
  kill -TERM "${pids[@]}" 2>/dev/null || true
  while (($(now_s) - start < STOP_GRACE_S)) && any_alive "${pids[@]}"; do sleep 0.2; done
  if any_alive "${pids[@]}"; then
    say "$svc: still alive after ${STOP_GRACE_S} s, sending SIGKILL"
    kill -KILL "${pids[@]}" 2>/dev/null || true
    while any_alive "${pids[@]}"; do sleep 0.1; done
  fi
  rm -f "$(pid_file "$svc")"
  say "$svc: stopped (pid ${pids[*]}) in $(($(now_s) - start)) s"
}

any_alive() {
  local pid
  for pid in "$@"; do
    # A zombie still answers kill -0; it holds no ports or memory, so it counts as gone.
    if pid_alive "$pid" && [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != "Z" ]]; then return 0; fi
  done
  return 1
}

# A KRaft cluster id: 16 random bytes in URL-safe base64 without padding (what Kafka's Uuid makes).
# Never one that starts with '-': kafka-storage would read it as an option and fail the format
# ("argument --cluster-id/-t: expected one argument"), one start in 64. Kafka's own
# Uuid.randomUuid() redraws such ids for the same reason.
new_cluster_id() {
  local id
  while :; do
    id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    [[ $id == -* ]] || break
  done
  printf '%s\n' "$id"
}

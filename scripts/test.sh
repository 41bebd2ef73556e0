#!/usr/bin/env bash
# The whole test suite (README: `npm test`): unit tests, then integration tests against a real
# Kafka (KRaft) and a real Cassandra started from Maven Central jars by scripts/services/services.sh.
# Test files run one at a time: the outage tests stop and restart the shared Kafka.
set -euo pipefail
cd "$(dirname "$0")/.."
S=scripts/services/services.sh
command -v socat >/dev/null || { echo "test.sh: socat is missing (apt-get install -y socat): the serial tests need real pseudo-terminals" >&2; exit 1; }
trap '"$S" stop all >/dev/null 2>&1 || true' EXIT
"$S" fetch
"$S" start all
env_lines=$("$S" env)
eval "$env_lines"
# test/cluster/ is its own target (npm run test:cluster): it starts its own 3-broker, 3-node cluster.
files=$(find test -name '*.test.ts' ! -path 'test/cluster/*' | sort)
log=$(mktemp)
node --import tsx --test --test-concurrency=1 $files | tee "$log"
# Tests skip themselves when a tool (lintian, debootstrap, python3, services) is missing; in CI a skip
# would hide a missing install step, so there it fails the run.
skipped=$(sed -n 's/^# skipped \([0-9]*\)$/\1/p' "$log" | tail -1)
rm -f "$log"
if [ "${CI:-}" = true ] && [ "${skipped:-0}" != 0 ]; then
  echo "test.sh: $skipped test(s) skipped in CI: a tool they need was not installed (see the skip reasons above)" >&2
  exit 1
fi

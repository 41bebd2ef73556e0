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
files=$(find test -name '*.test.ts' | sort)
node --import tsx --test --test-concurrency=1 $files

#!/usr/bin/env bash
# The whole test suite: unit tests, then integration tests against real Kafka and Cassandra.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(find test -name '*.test.ts' | sort)
exec node --import tsx --test --test-concurrency=1 $files

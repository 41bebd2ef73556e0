#!/usr/bin/env bash
# npm run test:cluster (issue 22): the cluster fault tests of test/cluster/ against a 3-broker Kafka
# and a 3-node Cassandra of their own (scripts/services/cluster.sh; ports below 20000, so the
# single-node services of `npm test` may run at the same time). Starts the cluster when it is not
# running and stops it afterwards only if it started it.
#   CLUSTER_OUTAGE_S   whole-cloud outage in seconds (default 600; the reduced run: 60)
#   FLEET_AGENTS       agent processes in the fleet (default 16)
set -euo pipefail
cd "$(dirname "$0")/.."
S=scripts/services/services.sh
export CLUSTER_OUTAGE_S=${CLUSTER_OUTAGE_S:-600}
started=0
if ! "$S" status cluster | grep -q 'cluster-cassandra-3: running'; then
  "$S" fetch
  "$S" start cluster
  started=1
fi
[[ $started == 1 ]] && trap '"$S" stop cluster >/dev/null 2>&1 || true' EXIT
eval "$("$S" env cluster)"
t0=$(date +%s)
node --import tsx --test --test-concurrency=1 test/cluster/*.test.ts
echo "test-cluster: $(($(date +%s) - t0)) s (outage ${CLUSTER_OUTAGE_S} s, ${FLEET_AGENTS:-16} agents)" >&2

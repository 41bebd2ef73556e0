#!/bin/sh
# /usr/bin/bedside-hub: the agent and its operator commands, from /usr/lib/bedside-hub, on the
# package's own Node.js 24 (/usr/lib/bedside-hub/node/bin/node, the runtime its native modules
# were built for; scripts/package.sh), never a node from PATH. exec keeps the agent the service's
# main process (systemd Type=notify, watchdog). The paths are resolved from this script so that an
# unpacked tree (dpkg-deb -x, test/packaging) runs its own copy.
here=$(dirname "$(readlink -f "$0")")
cli="$here/../lib/bedside-hub/dist/agent/cli.js"
node="$here/../lib/bedside-hub/node/bin/node"

# Memory settings of the long-running agent (`run`), measured in BENCHMARKS.md (ward memory):
# - V8 grows each of its two young-generation semi-spaces to 16 MB under a ward's steady ingest;
#   capped at 4 MB the 64-bed agent holds 113 MB instead of 125 MB after ten minutes and no longer
#   grows, for about a tenth less peak MQTT ingest.
# - glibc gives every thread that allocates (V8's GC and compiler threads) an arena of its own;
#   two arenas in all hold 7 MB less than Node's default. One arena would hold 5 MB less again, at
#   the same throughput, but the alarm latency's p99 under load rose (4.7 against 3.6 ms, mean of
#   8-9 runs each; the main thread waits on the one arena's lock while V8's and libuv's threads
#   allocate), and alarms come first (BENCHMARKS.md, session 10).
# An operator's own MALLOC_ARENA_MAX or BEDSIDE_HUB_NODE_FLAGS (empty: Node's defaults) wins.
# The start script of package.json uses the same settings; the benches that start the CLI, and
# the packaging test, read these two lines (test/support/agent-process.ts).
AGENT_NODE_FLAGS="--max-semi-space-size=4"
AGENT_MALLOC_ARENA_MAX="2"

# Issue 18: the installed agent refuses a config (or key file) that other users can read; a run
# from a checkout only warns (agent/secrets/permissions.ts). An operator's own setting wins.
BEDSIDE_HUB_PERMISSIONS=${BEDSIDE_HUB_PERMISSIONS:-enforce}
export BEDSIDE_HUB_PERMISSIONS

node_flags=
if [ "$1" = run ]; then
	node_flags=${BEDSIDE_HUB_NODE_FLAGS-$AGENT_NODE_FLAGS}
	MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-$AGENT_MALLOC_ARENA_MAX}
	export MALLOC_ARENA_MAX
fi

# Commands that open the agent's data directory run as the agent's user even under sudo: a
# bedside.db (or its -wal, -shm) created by root would lock the agent out of its own store.
# Bluetooth (run, pair scan) keeps CAP_NET_RAW and CAP_NET_ADMIN, as the service has them.
# $node_flags is unquoted on purpose: it is a list of flags, or nothing (split on blanks, never globbed).
set -f
# shellcheck disable=SC2086
case "$1" in
run | pair | devices | queue | relink)
	if [ "$(id -u)" = 0 ] && id bedside-hub >/dev/null 2>&1; then
		exec setpriv --reuid=bedside-hub --regid=bedside-hub --init-groups \
			--inh-caps=+net_raw,+net_admin --ambient-caps=+net_raw,+net_admin \
			"$node" $node_flags "$cli" "$@"
	fi
	;;
esac
# shellcheck disable=SC2086
exec "$node" $node_flags "$cli" "$@"

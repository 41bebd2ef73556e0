#!/bin/sh
# /usr/bin/bedside-hub: the agent and its operator commands, from /usr/lib/bedside-hub, on the
# Node.js of the nodejs package (>= 20). exec keeps the agent the service's main process
# (systemd Type=notify, watchdog). The path is resolved from this script so that an unpacked
# tree (dpkg-deb -x, test/packaging) runs its own copy.
here=$(dirname "$(readlink -f "$0")")
cli="$here/../lib/bedside-hub/dist/agent/cli.js"

# Commands that open the agent's data directory run as the agent's user even under sudo: a
# bedside.db (or its -wal, -shm) created by root would lock the agent out of its own store.
# Bluetooth (run, pair scan) keeps CAP_NET_RAW and CAP_NET_ADMIN, as the service has them.
case "$1" in
run | pair | devices | queue | relink)
	if [ "$(id -u)" = 0 ] && id bedside-hub >/dev/null 2>&1; then
		exec setpriv --reuid=bedside-hub --regid=bedside-hub --init-groups \
			--inh-caps=+net_raw,+net_admin --ambient-caps=+net_raw,+net_admin \
			/usr/bin/node "$cli" "$@"
	fi
	;;
esac
exec /usr/bin/node "$cli" "$@"

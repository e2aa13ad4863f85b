#!/usr/bin/env bash
# bench.sh: run every benchmark scenario against our nsqd and upstream nsqd v1.3.0, alternating
# them (A B A B), and write benchmarks/results/<date>-<commit>.md with its chart.
#
#   scripts/bench.sh              default run, about 6-8 minutes on 2 cores
#   scripts/bench.sh -quick       about a minute
#   scripts/bench.sh -ours PATH -upstream PATH -scenarios pub,e2e -rounds 5 -results -
#
# Extra arguments go to `nsqbench compare` (see `-h`). Upstream is built through the tools module
# (tools/upstream) into .bin/ if .bin/nsqd is missing; ours is built from ./cmd/nsqd unless -ours
# is given.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [[ ! -x "$root/.bin/nsqd" ]]; then
	echo "bench.sh: building upstream nsqd v1.3.0 into .bin/ through tools/upstream" >&2
	(cd "$root/tools/upstream" && GOBIN="$root/.bin" go install tool)
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$root/benchmarks" && go build -o "$tmp/nsqbench" ./cmd/nsqbench)

cd "$root"
"$tmp/nsqbench" compare -repo "$root" "$@"

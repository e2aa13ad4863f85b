#!/usr/bin/env bash
# Runs every test of nsqreactor on a fresh machine, installing what it needs:
# Go modules, upstream NSQ v1.3.0 binaries (module proxy, tools/upstream),
# Debian's chromium for the nsqadmin page check, nsqjs from npm.
#
#   scripts/test.sh            # everything (≈ 15 min on 2 cores)
#   FUZZTIME=60s scripts/test.sh   # longer fuzzing
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
step() { printf '\n=== %s (%s)\n' "$*" "$(date +%T)"; }

step "install: Go modules and upstream binaries"
go mod download
(cd benchmarks && go mod download)
scripts/upstream.sh

step "install: chromium (for the nsqadmin page check)"
if ! command -v chromium >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) ||
			echo "chromium install failed: the browser check will be skipped"
	else
		echo "not root or no apt-get: the browser check will be skipped"
	fi
fi

step "static checks: gofmt, go vet"
unformatted=$(gofmt -l $(git ls-files '*.go') 2>/dev/null || true)
if [ -n "$unformatted" ]; then
	echo "gofmt needed on: $unformatted"
	exit 1
fi
go vet ./...
(cd benchmarks && go vet ./...)

step "unit, black-box and tool tests with -race"
go test -race -count=1 -timeout 20m ./...

step "allocation tests (need a build without -race)"
go test -count=1 -run 'Alloc' ./codec/ ./queue/ ./core/ ./loop/ ./httpfast/

step "benchmark harness smoke tests"
(cd benchmarks && go test -count=1 -timeout 5m ./...)

step "fuzzing, briefly (${FUZZTIME:-15s} per target)"
if [ -x scripts/fuzz.sh ]; then
	scripts/fuzz.sh "${FUZZTIME:-15s}"
fi

step "all tests passed"

#!/bin/sh
# Builds upstream NSQ v1.3.0 (nsqd, nsqlookupd, nsqadmin, nsq_stat, nsq_tail,
# to_nsq) from the tools module tools/upstream into <repo>/.bin. The
# compatibility suite (test/compat) runs against <repo>/.bin/nsqd.
#
# Idempotent: when every binary exists and is newer than the tools module's
# go.mod and go.sum it does nothing. -f forces a rebuild.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.bin"
mod="$root/tools/upstream"
tools="nsqd nsqlookupd nsqadmin nsq_stat nsq_tail to_nsq"

if [ "${1:-}" != "-f" ]; then
	fresh=1
	for t in $tools; do
		if [ ! -x "$bin/$t" ] || [ "$mod/go.mod" -nt "$bin/$t" ] || [ "$mod/go.sum" -nt "$bin/$t" ]; then
			fresh=0
			break
		fi
	done
	if [ "$fresh" = 1 ]; then
		echo "upstream binaries up to date in $bin"
		exit 0
	fi
fi

mkdir -p "$bin"
cd "$mod"
GOBIN="$bin" go install tool
echo "installed upstream binaries into $bin"
"$bin/nsqd" --version

#!/usr/bin/env bash
# Captures CPU and allocation profiles of our nsqd under benchmark scenarios
# into profiles/<date>-<commit>-<scenario>-{cpu,alloc}.pprof.
#
#   scripts/profile.sh [scenario ...]     # default: pub/conns=4 sub e2e/rate=100k
#
# Each scenario runs once under benchmarks/cmd/nsqbench; a wrapper starts our
# daemon with a fixed pprof port and pulls a CPU profile while the load runs,
# then the heap profile (alloc_space/alloc_objects are what to read).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/nsqd" ./cmd/nsqd
port=${PROF_PORT:-14999}
stamp="$(date -u +%Y-%m-%d)-$(git rev-parse --short HEAD)"
cat >"$work/wrap.sh" <<WRAP
#!/usr/bin/env bash
( sleep \${PROF_DELAY:-0.7}
  curl -s "http://127.0.0.1:$port/debug/pprof/profile?seconds=\${PROF_SECS:-2}" >"\$PROF_OUT-cpu.pprof"
  curl -s "http://127.0.0.1:$port/debug/pprof/heap" >"\$PROF_OUT-alloc.pprof" ) &
exec "$work/nsqd" "\$@" --http-address=127.0.0.1:$port
WRAP
chmod +x "$work/wrap.sh"
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(pub/conns=4 sub e2e/rate=100k)
mkdir -p profiles
for sc in "${scenarios[@]}"; do
	tag=$(echo "$sc" | tr '/=' '--')
	out="$root/profiles/$stamp-$tag"
	echo "== $sc -> $out-{cpu,alloc}.pprof"
	(cd benchmarks && PROF_OUT="$out" go run ./cmd/nsqbench run -bin "$work/wrap.sh" -scenarios "$sc" | tail -1)
	sleep 0.5
	go tool pprof -top -nodecount=12 "$work/nsqd" "$out-cpu.pprof" 2>/dev/null | sed -n '5,18p' || true
done

#!/bin/bash
# gencrash.sh DIR : publishes, waits for a sync, publishes more, then SIGKILLs upstream nsqd.
set -e
D=$1; mkdir -p $D
/work/main/.bin/nsqd --data-path=$D --mem-queue-size=0 --max-bytes-per-file=300 --sync-timeout=500ms --tcp-address=127.0.0.1:0 --http-address=127.0.0.1:0 > $D.log 2>&1 &
pid=$!
for i in $(seq 50); do grep -q 'HTTP: listening' $D.log && break; sleep 0.1; done
H=$(grep -o 'HTTP: listening on [0-9.:]*' $D.log | awk '{print $4}')
curl -sf -XPOST "http://$H/topic/create?topic=k" >/dev/null
for i in $(seq 1 8); do curl -sf -d "synced-$i" "http://$H/pub?topic=k" >/dev/null; done
sleep 1.5
for i in $(seq 1 4); do curl -sf -d "unsynced-$i" "http://$H/pub?topic=k" >/dev/null; done
kill -KILL $pid; wait $pid || true

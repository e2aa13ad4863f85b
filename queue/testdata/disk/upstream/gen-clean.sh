#!/bin/bash
# gen.sh DIR : runs upstream nsqd on DIR and leaves go-diskqueue files behind.
set -e
D=$1; mkdir -p $D
/work/main/.bin/nsqd --data-path=$D --mem-queue-size=0 --max-bytes-per-file=300 --tcp-address=127.0.0.1:0 --http-address=127.0.0.1:0 > $D.log 2>&1 &
pid=$!
for i in $(seq 50); do grep -q 'HTTP: listening' $D.log && break; sleep 0.1; done
H=$(grep -o 'HTTP: listening on [0-9.:]*' $D.log | awk '{print $4}')
T=$(grep -o 'TCP: listening on [0-9.:]*' $D.log | awk '{print $4}')
curl -sf -XPOST "http://$H/topic/create?topic=t" >/dev/null
curl -sf -XPOST "http://$H/channel/create?topic=t&channel=c" >/dev/null
curl -sf -XPOST "http://$H/topic/create?topic=u" >/dev/null
for i in $(seq 1 12); do
  curl -sf -d "msg-t-$i-$(printf '%0*d' $((i*3)) 0)" "http://$H/pub?topic=t" >/dev/null
  curl -sf -d "msg-u-$i" "http://$H/pub?topic=u" >/dev/null
done
timeout 10 /work/main/.bin/nsq_tail --nsqd-tcp-address=$T --topic=t --channel=c -n 3 >/dev/null 2>&1
kill -TERM $pid; wait $pid || true

#!/usr/bin/env bash
# The ingest node's webhook under a firehose, with and without edges to
# feed: the ingest node (NATS inside) on core 0, the edges and the load
# tool on core 1, so what the webhook answers is the ingest node's own
# work and not the edges' share of one machine. The figures in
# docs/deployment.md ("Edges at scale") come from, three runs each:
#
#   go build -o /tmp/wallcast ./cmd/wallcast
#   WALLCAST=/tmp/wallcast EDGES=0 bench/firehose.sh   # no edges: its 4 screens on the ingest node
#   WALLCAST=/tmp/wallcast EDGES=4 bench/firehose.sh   # 4 edges, one screen each
#
# RATE requests a second of BATCH posts each (default 50 × 100 = 5,000
# posts/s) for DURATION.
set -euo pipefail
cd "$(dirname "$0")/.."
W=${WALLCAST:-wallcast}
RATE=${RATE:-50} BATCH=${BATCH:-100} DURATION=${DURATION:-30s} EDGES=${EDGES:-4}
export WALLCAST_BENCH_SECRET=${WALLCAST_BENCH_SECRET:-$(openssl rand -hex 16)}
export WALLCAST_EDGE_PASSWORD=${WALLCAST_EDGE_PASSWORD:-$(openssl rand -hex 16)}
dir=$(mktemp -d)
WALLCAST_DB=$dir/b.db WALLCAST_NATS_DIR=$dir/nats taskset -c 0 "$W" -config bench/cluster.yaml 2>"$dir/ingest.log" &
pids=($!)
trap 'kill "${pids[@]}" 2>/dev/null; wait; rm -rf "$dir"' EXIT
sleep 3
urls="" edges=""
for i in $(seq 1 "$EDGES"); do
  taskset -c 1 "$W" edge -config bench/cluster.yaml -listen "127.0.0.1:$((8080 + i))" 2>"$dir/edge$i.log" &
  pids+=($!)
  urls="$urls${urls:+,}http://127.0.0.1:$((8080 + i))"
done
[ -n "$urls" ] || urls=http://127.0.0.1:8080
sleep 4
taskset -c 1 "$W" bench -url "$urls" -post-url http://127.0.0.1:8080 -subscribers 4 -rate "$RATE" -batch "$BATCH" \
  -duration "$DURATION" -pid "${pids[0]}"

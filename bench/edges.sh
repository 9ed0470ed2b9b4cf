#!/usr/bin/env bash
# Screens through edges, all on one machine: an ingest node with NATS
# inside (bench/cluster.yaml), EDGES edges, and the load tool in as many
# processes (one process holds only as many sockets as its open-file
# limit). The figures in docs/deployment.md ("Edges at scale") come from:
#
#   go build -o /tmp/wallcast ./cmd/wallcast
#   WALLCAST=/tmp/wallcast SCREENS=60000 RATE=1 DURATION=10m bench/edges.sh    # 60,000 screens, 4 edges
#   WALLCAST=/tmp/wallcast SCREENS=30000 RATE=10 DURATION=60s bench/edges.sh   # a busy wall
#   WALLCAST=/tmp/wallcast SCREENS=4 RATE=50 BATCH=100 DURATION=30s bench/edges.sh   # a firehose: 5,000 posts/s
#   WALLCAST=/tmp/wallcast SCREENS=40 RATE=10 BATCH=100 DURATION=60s KILL_INGEST_AT=20s bench/edges.sh
#       # 1,000 posts/s, the ingest node killed (SIGKILL) 20 s into the publishing and started again
#   WALLCAST=/tmp/wallcast SCREENS=40000 RATE=1 DURATION=60s KILL_EDGE_AT=20s bench/edges.sh
#       # the first edge killed 20 s in: its 10,000 screens come back on the others, then it starts again
#   WALLCAST=/tmp/wallcast EDGES=5 SCREENS=75000 RATE=1 DURATION=60s KILL_EDGE_AT=20s bench/edges.sh
#       # the same with 15,000 screens on the edge that dies (five edges: the others stay under 20,000 files)
#   WALLCAST=/tmp/wallcast VIA_NGINX=1 SCREENS=8000 RATE=1 DURATION=60s KILL_EDGE_AT=20s bench/edges.sh
#       # the same behind Debian's nginx with deploy/nginx/wallcast-edges.conf (two workers; nginx holds
#       # two files a screen, so 8,000 screens is what fits here): the screens reconnect through nginx
set -euo pipefail
cd "$(dirname "$0")/.."
W=${WALLCAST:-wallcast}
SCREENS=${SCREENS:-60000} RATE=${RATE:-1} BATCH=${BATCH:-1} DURATION=${DURATION:-60s} EDGES=${EDGES:-4}
export WALLCAST_BENCH_SECRET=${WALLCAST_BENCH_SECRET:-$(openssl rand -hex 16)}
export WALLCAST_EDGE_PASSWORD=${WALLCAST_EDGE_PASSWORD:-$(openssl rand -hex 16)}
dir=$(mktemp -d)
ingest() { WALLCAST_DB=$dir/b.db WALLCAST_NATS_DIR=$dir/nats "$W" -config bench/cluster.yaml 2>>"$dir/ingest.log" & echo $! >"$dir/ingest.pid"; }
ingest
pids=($(cat "$dir/ingest.pid"))
trap 'kill "${pids[@]}" $(cat "$dir/ingest.pid") 2>/dev/null; wait; rm -rf "$dir"' EXIT
sleep 3
urls="" edges=""
for i in $(seq 1 "$EDGES"); do
  "$W" edge -config bench/cluster.yaml -listen "127.0.0.1:$((8080 + i))" 2>"$dir/edge$i.log" &
  pids+=($!)
  urls="$urls${urls:+,}http://127.0.0.1:$((8080 + i))"
  edges="$edges${edges:+,}$!"
done
sleep 4
target=$urls procs=$EDGES
if [ -n "${VIA_NGINX:-}" ]; then
  # deploy/nginx/wallcast-edges.conf with this run's edges and ingest node.
  mkdir -p "$dir/nginx"
  ups=""
  for u in ${urls//,/ }; do ups="$ups    server ${u#http://} max_fails=1 fail_timeout=5s;\n"; done
  sed -e '/server 10.0.0.1[12]:8080/d' -e "s|^upstream wallcast_edges {|upstream wallcast_edges {\n$ups|" \
    -e 's|server 10.0.0.10:8080;|server 127.0.0.1:8080;|' -e 's|listen 80;|listen 127.0.0.1:8090 reuseport;|' \
    deploy/nginx/wallcast-edges.conf >"$dir/nginx/site.conf"
  cat >"$dir/nginx/nginx.conf" <<NGINX
daemon off;
worker_processes 2;
worker_rlimit_nofile 20000;
pid $dir/nginx/nginx.pid;
error_log $dir/nginx/error.log warn;
events { worker_connections 10000; }
http {
    access_log off;
    client_body_temp_path $dir/nginx/body;
    proxy_temp_path $dir/nginx/proxy;
    fastcgi_temp_path $dir/nginx/fastcgi;
    uwsgi_temp_path $dir/nginx/uwsgi;
    scgi_temp_path $dir/nginx/scgi;
    include $dir/nginx/site.conf;
}
NGINX
  nginx -c "$dir/nginx/nginx.conf" -p "$dir/nginx" &
  pids+=($!)
  sleep 1
  target=http://127.0.0.1:8090 procs=1
fi
if [ -n "${KILL_INGEST_AT:-}" ]; then
  (
    until grep -q "webhook: accepted" "$dir/ingest.log"; do sleep 0.2; done
    sleep "$KILL_INGEST_AT"
    kill -9 "$(cat "$dir/ingest.pid")"
    echo "ingest node killed at $(date +%T.%N | cut -c1-12); starting it again" >&2
    ingest
  ) &
fi
if [ -n "${KILL_EDGE_AT:-}" ]; then
  (
    until grep -q "webhook: accepted" "$dir/ingest.log"; do sleep 0.2; done
    sleep "$KILL_EDGE_AT"
    kill -9 "${pids[1]}"
    echo "edge 1 killed at $(date +%T.%N | cut -c1-12); starting it again in 5 s" >&2
    sleep 5
    "$W" edge -config bench/cluster.yaml -listen 127.0.0.1:8081 2>>"$dir/edge1.log" &
    echo $! >"$dir/edge1.pid"
  ) &
  trap 'kill "${pids[@]}" $(cat "$dir/ingest.pid" "$dir/edge1.pid" 2>/dev/null) 2>/dev/null; wait; rm -rf "$dir"' EXIT
fi
"$W" bench ${KILL_EDGE_AT:+-reconnect} -url "$target" -post-url http://127.0.0.1:8080 -subscribers "$SCREENS" -rate "$RATE" -batch "$BATCH" \
  -duration "$DURATION" -pid "$edges,${pids[0]}" -procs "$procs" -per-source 15000

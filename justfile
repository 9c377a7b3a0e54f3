# Parley's everyday commands. Each recipe is a thin wrapper: the README shows the plain cargo commands, so
# `just` is a convenience, never a requirement (`cargo install just` or `pip install rust-just`).

mysql_url := env_var_or_default("PARLEY_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306")

# List the recipes.
default:
    @just --list

# Run the server (SQLite in the platform data directory unless PARLEY_DATABASE_URL says otherwise).
run *ARGS:
    cargo run -p parleyd -- {{ARGS}}

# Run the command-line client, e.g. `just cli tail`.
cli *ARGS:
    cargo run -q -p parley -- {{ARGS}}

# Run every test; MySQL tests are skipped with a notice unless PARLEY_TEST_MYSQL_URL is set.
test *ARGS:
    cargo test --workspace {{ARGS}}

# Run every test, storage-touching ones on SQLite and on MySQL (default URL: root@127.0.0.1:3306).
test-mysql *ARGS:
    PARLEY_TEST_MYSQL_URL={{mysql_url}} cargo test --workspace {{ARGS}}

# Build the web app into web/dist, which parleyd then serves at / (needs Node.js and npm).
web:
    npm --prefix web install --no-audit --no-fund
    npm --prefix web run build

# Run every benchmark scenario with its same-run references (release build; MySQL at PARLEY_BENCH_MYSQL_URL,
# default root@127.0.0.1:3306; Node.js and npm for the Socket.IO peer, whose packages the benchmark installs).
# `just bench --quick` is the seconds-long smoke run; see docs/BENCHMARKS.md.
bench *ARGS:
    cargo build --release -p parleyd -p parley-bench
    cargo run --release -q -p parley-bench -- {{ARGS}}

# A local cluster on http://127.0.0.1:8080: NATS, three nodes on MariaDB (PARLEY_CLUSTER_MYSQL_URL, default
# root@127.0.0.1:3306), Envoy balancing grpc-web across them. See deploy/cluster.sh; Ctrl-C stops it.
cluster:
    cargo build --release -p parleyd
    bash deploy/cluster.sh

# Format the code.
fmt:
    cargo fmt --all

# Everything CI checks before the tests: formatting, clippy, dependency direction, buf lint, and buf breaking
# (the protos as they are now against the previous commit's).
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings
    .ci/check-deps
    cd proto && npx --yes @bufbuild/buf@1.75.0 lint
    npx --yes @bufbuild/buf@1.75.0 breaking proto --against '.git#ref=HEAD~1,subdir=proto'

# Prove the layering: nothing below the gateway knows tonic/prost; only storage knows Diesel.
deps:
    .ci/check-deps

# Exactly what CI runs (installs or starts MariaDB, grpcurl, … if missing).
ci:
    bash .ci/run

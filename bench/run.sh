#!/bin/sh
# Runs bureau's benchmarks side by side with smol and tokio.
#
# Installs wrk (Debian's package) when it is missing, then runs every
# workload, or the ones named, with any flags passed on. It never touches
# anything but 127.0.0.1 and the system's temporary folder.
#
#   bench/run.sh                          # all workloads, table on stdout
#   bench/run.sh all --svg bench/results/ratios.svg
#   bench/run.sh spawn yield --reps 3     # a few, fewer repetitions
set -eu

if ! command -v wrk >/dev/null 2>&1; then
    echo "bench: installing wrk" >&2
    if [ "$(id -u)" -eq 0 ]; then
        apt-get update -qq && apt-get install -y -qq wrk >/dev/null
    else
        sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null
    fi
fi

cd "$(dirname "$0")/.."
exec cargo run --release -p bureau-bench -- "$@"

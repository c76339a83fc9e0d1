#!/bin/sh
# A sweep split into shards that GNU parallel runs at once, on this machine
# or over hosts (each with a checkout of this repository and dynsim on its
# PATH), then merged into one summary.
#
# usage: deploy/sweep-parallel.sh FILE SEEDS SHARDS OUT [HOSTS]
#   FILE    the sweep base, like scenarios/sweep/five_nodes.toml
#   SEEDS   the range A..B
#   SHARDS  how many shards (the jobs GNU parallel runs)
#   OUT     a directory: each shard writes OUT/shard-K, the merged summary OUT/merged.txt
#   HOSTS   optional, for parallel -S: like "host1,host2" (":" is this machine)
#
# Exit code: merge's (0 all seeds passed, 1 a seed failed, 2 seeds missing
# or the shards do not belong together), or parallel's if a shard could not run.
set -eu
if [ $# -lt 4 ] || [ $# -gt 5 ]; then
    echo "usage: $0 FILE SEEDS SHARDS OUT [HOSTS]" >&2
    exit 2
fi
file=$1 seeds=$2 shards=$3 out=$4 hosts=${5:-}
command -v parallel >/dev/null || { echo "error: GNU parallel is not installed (apt-get install parallel)" >&2; exit 2; }
command -v dynsim >/dev/null || { echo "error: dynsim is not on the PATH (cargo install --path cli --locked)" >&2; exit 2; }
mkdir -p "$out"
# Each shard is one job; --halt stops the rest once one fails to run.
seq 0 $((shards - 1)) | parallel ${hosts:+-S "$hosts"} --halt now,fail=1 \
    dynsim sweep "$file" --seeds "$seeds" --shard "{}/$shards" --out "$out/shard-{}"
status=0
dynsim merge "$out"/shard-* > "$out/merged.txt" || status=$?
cat "$out/merged.txt"
exit "$status"

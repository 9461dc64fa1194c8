#!/bin/sh
# The recommended recipe end to end, from BHive CSV to a model: imports the five
# llvm-mca CSVs of ../shared/data/bhive-mca (or the CSV files given) into
# all.tfrecord, writes vocab.txt, then trains with recipes/bhive-mca.flags into
# runs/recipe (runs/recipe-CPU for another CPU). Run it in the repository
# root. CPU=skylake (ivybridge, znver1, znver4) trains on that CPU's labels
# with the recipe otherwise unchanged.
# Usage: [CPU=haswell] scripts/train-recipe.sh [CSV...]
set -e
G=${GRANITE:-build/granite}
if [ ! -f all.tfrecord ]; then
  if [ $# -gt 0 ]; then "$G" import-bhive --output all.tfrecord "$@"
  else "$G" import-bhive --output all.tfrecord ../shared/data/bhive-mca/*.csv; fi
fi
[ -f vocab.txt ] || "$G" tokens --output vocab.txt all.tfrecord
CPU=${CPU:-haswell}
[ "$CPU" = haswell ] && exec "$G" --flagfile=recipes/bhive-mca.flags
FLAGS=$(mktemp /tmp/granite-recipe-XXXXXX.flags)
trap 'rm -f "$FLAGS"' EXIT
sed "s/^--gematria_throughput_source_filter=.*/--gematria_throughput_source_filter=bhive: $CPU/" \
  recipes/bhive-mca.flags > "$FLAGS"
"$G" --flagfile="$FLAGS" --gematria_checkpoint_dir="runs/recipe-$CPU"

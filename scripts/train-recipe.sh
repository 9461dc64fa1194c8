#!/bin/sh
# The recommended recipe end to end, from BHive CSV to a model: imports the five
# llvm-mca CSVs of ../shared/data/bhive-mca (or the CSV files given) into
# all.tfrecord, writes vocab.txt, then trains with recipes/bhive-mca.flags into
# runs/recipe. Run it in the repository root. Extra training flags go in
# GRANITE_FLAGS (e.g. GRANITE_FLAGS="--gematria_throughput_source_filter=bhive: skylake").
# Usage: scripts/train-recipe.sh [CSV...]
set -e
G=${GRANITE:-build/granite}
if [ ! -f all.tfrecord ]; then
  if [ $# -gt 0 ]; then "$G" import-bhive --output all.tfrecord "$@"
  else "$G" import-bhive --output all.tfrecord ../shared/data/bhive-mca/*.csv; fi
fi
[ -f vocab.txt ] || "$G" tokens --output vocab.txt all.tfrecord
if [ -n "$GRANITE_FLAGS" ]; then exec "$G" --flagfile=recipes/bhive-mca.flags "$GRANITE_FLAGS"; fi
exec "$G" --flagfile=recipes/bhive-mca.flags

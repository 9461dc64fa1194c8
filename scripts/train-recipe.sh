#!/bin/sh
# The recommended recipe end to end, from BHive CSV to a model: imports the five
# llvm-mca CSVs of ../shared/data/bhive-mca (or the CSV files given) into
# all.tfrecord, writes vocab.txt, then trains with recipes/bhive-mca.flags into
# runs/recipe: one model with a task per CPU (haswell, skylake, ivybridge,
# znver1, znver4). Run it in the repository root; flags after -- go to granite
# after the flag file (e.g. -- --gematria_checkpoint_dir=runs/other).
# Usage: scripts/train-recipe.sh [CSV...] [-- FLAG...]
set -e
G=${GRANITE:-build/granite}
CSVS=""
while [ $# -gt 0 ] && [ "$1" != -- ]; do CSVS="$CSVS $1"; shift; done
[ "${1:-}" = -- ] && shift
if [ ! -f all.tfrecord ]; then
  # shellcheck disable=SC2086 # CSV paths without spaces, as BHive ships them
  if [ -n "$CSVS" ]; then "$G" import-bhive --output all.tfrecord $CSVS
  else "$G" import-bhive --output all.tfrecord ../shared/data/bhive-mca/*.csv; fi
fi
[ -f vocab.txt ] || "$G" tokens --output vocab.txt all.tfrecord
exec "$G" --flagfile=recipes/bhive-mca.flags "$@"

#!/bin/sh
# One run of the ablations of docs/accuracy.md: the haswell labels of
# ../shared/data/bhive-mca, 5% of the blocks held out by hash, MAPE loss,
# batches of 100, cosine schedule over STEPS (override with
# --gematria_decay_steps=...), checkpoints in runs/NAME, log in runs/NAME.log.
# Run it in the repository root; it imports all.tfrecord and vocab.txt first
# if they are missing.
# Usage: [CPU=skylake] scripts/ablation.sh NAME STEPS THREADS [more flags...]
# (CPU: the bhive-mca label set, haswell by default)
set -e
[ $# -ge 3 ] || { echo "usage: $0 NAME STEPS THREADS [flags...]" >&2; exit 2; }
N=$1; S=$2; T=$3; shift 3
G=${GRANITE:-build/granite}
[ -f all.tfrecord ] || "$G" import-bhive --output all.tfrecord ../shared/data/bhive-mca/*.csv
[ -f vocab.txt ] || "$G" tokens --output vocab.txt all.tfrecord
mkdir -p runs
exec "$G" --gematria_action=train \
  --gematria_input_file=all.tfrecord --gematria_tokens_file=vocab.txt \
  --gematria_throughput_source_filter="bhive: ${CPU:-haswell}" \
  --gematria_checkpoint_dir="runs/$N" \
  --gematria_loss_type=mean_absolute_error --gematria_loss_normalization=percentage_error \
  --gematria_learning_rate=0.001 --gematria_learning_rate_schedule=cosine --gematria_decay_steps="$S" \
  --gematria_max_blocks_in_batch=100 --gematria_training_num_epochs="$S" \
  --gematria_save_checkpoint_epochs=2000 --gematria_num_threads="$T" \
  --gematria_validation_fraction=0.05 --gematria_validation_epochs=2000 \
  --gematria_log_interval_secs=60 "$@" 2> "runs/$N.log"

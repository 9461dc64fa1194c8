#!/bin/sh
# The 30-minute run of docs/training.md: the default model on the haswell labels of
# ../shared/data/bhive-mca, MAPE loss, cosine decay over 44,000 steps (about 30 min
# with 2 threads here). Run it in the repository root: it writes all.tfrecord,
# vocab.txt (importing the data first) and the checkpoints in hsw2c/ there.
# Usage: scripts/train-bhive-mca-haswell.sh [path/to/granite]
set -e
G=${1:-build/granite}
[ -f all.tfrecord ] || "$G" import-bhive --output all.tfrecord ../shared/data/bhive-mca/*.csv
[ -f vocab.txt ] || "$G" tokens --output vocab.txt all.tfrecord
exec "$G" --gematria_action=train \
  --gematria_input_file=all.tfrecord --gematria_tokens_file=vocab.txt \
  --gematria_throughput_source_filter='bhive: haswell' \
  --gematria_checkpoint_dir=hsw2c \
  --gematria_loss_type=mean_absolute_error --gematria_loss_normalization=percentage_error \
  --gematria_learning_rate=0.001 --gematria_learning_rate_schedule=cosine --gematria_decay_steps=44000 \
  --gematria_max_blocks_in_batch=100 --gematria_training_num_epochs=44000 \
  --gematria_save_checkpoint_epochs=2000 \
  --gematria_validation_fraction=0.05 --gematria_validation_epochs=2000


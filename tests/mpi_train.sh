#!/bin/sh
# Data-parallel training: `mpirun -np 2 granite train` and one process with
# the same seed and global batch train the same model (predictions equal to
# 1e-4 relative after 30 steps, while one step more or less moves them by
# far more); rank 0 alone writes progress, checkpoints, metrics.jsonl and
# validation, and validation (sharded over the ranks) gives the same MAPE.
set -u
. tests/lib_mpi.sh
T=$(mktemp -d /tmp/granite_mpi_train_XXXXXX)
trap 'rm -rf "$T"' EXIT
RUN="train --gematria_tokens_file=$VOCAB --gematria_input_file=$DATA --gematria_max_blocks_in_batch=64
  --gematria_save_checkpoint_epochs=10 --gematria_validation_epochs=10 --gematria_validation_fraction=0.2
  --gematria_log_interval_secs=0 --gematria_training_num_epochs=30 --gematria_num_threads=1
  --gematria_loss_type=mean_absolute_error --gematria_learning_rate=0.01 $SMALL"
"$G" $RUN --gematria_checkpoint_dir=$T/one 2>$T/one.err || fail "one process: $(tail -1 $T/one.err)"
mpirun_within 120 -np 2 "$G" $RUN --gematria_checkpoint_dir=$T/two 2>$T/two.err ||
  fail "mpirun -np 2: $(grep -v '^step' $T/two.err | tail -3)"
grep -q "from step 0 to 30 on 2 ranks x 1 threads" $T/two.err || fail "start-up line: $(grep training $T/two.err)"

predict() { # checkpoint -> csv
  "$G" predict --gematria_checkpoint_file=$1 --gematria_input_file=$DATA --gematria_output_file=$T/p.tfrecord \
    --gematria_output_csv=$2 --gematria_num_threads=1 2>$T/p.err || fail "predict $1: $(tail -1 $T/p.err)"
}
predict $T/one/model.ckpt-30 $T/one.csv
predict $T/two/model.ckpt-30 $T/two.csv
predict $T/one/model.ckpt-20 $T/one20.csv
d=$(max_rel_diff $T/one.csv $T/two.csv)
le "$d" 1e-4 || fail "2 ranks and 1 process differ by $d (relative) after 30 steps"
# the comparison can fail: ten steps fewer is far away
d20=$(max_rel_diff $T/one20.csv $T/two.csv)
le "$d20" 1e-3 && fail "steps 20 and 30 differ by only $d20: the comparison above proves nothing"

# rank 0 alone: the same lines as one process, nothing from rank 1
for what in '^step [0-9]*/30 ' '^saved ' '^validation' '^finished at global step 30'; do
  a=$(grep -c "$what" $T/one.err)
  b=$(grep -c "$what" $T/two.err)
  [ "$a" -gt 0 ] && [ "$a" -eq "$b" ] || fail "'$what': $a lines from one process, $b from two ranks"
done
grep -q "rank 1" $T/two.err && fail "rank 1 printed: $(grep 'rank 1' $T/two.err)"
# (TensorBoard event files are named after the time and host: compared by count)
files() { ls "$1" | sed 's/^events\.out\.tfevents\..*/events.out.tfevents.TIME.HOST/' | tr '\n' ' '; }
[ "$(files $T/one)" = "$(files $T/two)" ] ||
  fail "checkpoint directories differ: $(files $T/one) / $(files $T/two)"
[ "$(wc -l <$T/one/metrics.jsonl)" -eq "$(wc -l <$T/two/metrics.jsonl)" ] ||
  fail "metrics.jsonl: $(wc -l <$T/one/metrics.jsonl) lines from one process, $(wc -l <$T/two/metrics.jsonl) from two"
# validation MAPE of the sharded validation, at every validation step
vm() { sed -n 's/.*"validation": {"relative_mae": \[\([^],]*\).*/\1/p' $1; }
vm $T/one/metrics.jsonl >$T/v1
vm $T/two/metrics.jsonl >$T/v2
[ -s $T/v1 ] || fail "no validation in metrics.jsonl: $(head -3 $T/one/metrics.jsonl)"
paste $T/v1 $T/v2 | while read a b; do
  le "$(awk -v a=$a -v b=$b 'BEGIN { d = a - b; print (d < 0 ? -d : d) / a }')" 1e-4 ||
    echo "validation MAPE $a (one process) vs $b (two ranks)"
done >$T/vdiff
[ -s $T/vdiff ] && fail "$(cat $T/vdiff)"
finish

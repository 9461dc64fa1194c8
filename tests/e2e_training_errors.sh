#!/bin/sh
# A run that diverges (NaN or infinite loss, gradient or parameters) must stop
# with one error line naming the step, exit non-zero, keep every checkpoint
# written before, and never save the poisoned model. $1 = the granite binary.
set -u
G=${1:?usage: e2e_training_errors.sh path/to/granite}
case "$G" in /*) ;; *) G="$(pwd)/$G" ;; esac
DATA=data/sample/sample.tfrecord
VOCAB=data/sample/vocab.txt
T=$(mktemp -d /tmp/granite_e2e_err_XXXXXX)
trap 'rm -rf "$T"' EXIT
export OMP_WAIT_POLICY=passive
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
steps_in() { ls "$1" | sed -n 's/^model\.ckpt-\([0-9]*\)$/\1/p' | sort -n; }

# A small model so the test is quick; a checkpoint after every step.
SMALL="--gematria_node_embedding_size=16 --gematria_edge_embedding_size=16 --gematria_global_embedding_size=16
  --gematria_node_update_layers=16 --gematria_edge_update_layers=16 --gematria_global_update_layers=16
  --gematria_task_readout_layers=16 --gematria_num_message_passing_iterations=2"
RUN="train --gematria_checkpoint_dir=$T/ck --gematria_tokens_file=$VOCAB --gematria_input_file=$DATA
  --gematria_max_blocks_in_batch=20 --gematria_save_checkpoint_epochs=1 --gematria_log_interval_secs=0 $SMALL"

"$G" $RUN --gematria_training_num_epochs=4 2>$T/ok.err || fail "the healthy run failed: $(tail -2 $T/ok.err)"
[ "$(steps_in $T/ck | tr '\n' ' ')" = "1 2 3 4 " ] || fail "healthy run checkpoints: $(steps_in $T/ck | tr '\n' ' ')"
cp $T/ck/metrics.jsonl $T/metrics_before.jsonl

# Continue with the largest learning rate the flags accept: Adam moves every
# parameter by ~1e9 per step, so activations overflow within a few steps.
"$G" $RUN --gematria_training_num_epochs=40 --gematria_learning_rate=1e9 2>$T/nan.err
rc=$?
[ $rc -ne 0 ] || fail "the diverging run exited with status 0"
[ "$(grep -c 'error:' $T/nan.err)" -eq 1 ] || fail "want exactly one error line, got: $(grep 'error:' $T/nan.err)"
ERR=$(grep 'error:' $T/nan.err)
BAD=$(echo "$ERR" | sed -n 's/.*error: step \([0-9][0-9]*\): .*NaN.*/\1/p')
[ -n "$BAD" ] || fail "the error line does not name the step and NaN: $ERR"
BAD=${BAD:-0}
[ "$BAD" -gt 4 ] || fail "the error names step $BAD, but the run resumed at step 4"
# it names what went wrong: the loss, or a gradient or parameter tensor
echo "$ERR" | grep -q "the loss is\|gradient of [a-z_]\|parameter:\{0,1\} [a-z_]" || fail "the error names no tensor: $ERR"
echo "$ERR" | grep -q "last checkpoint: .*model.ckpt-" || fail "the error does not say which checkpoint is kept"

# Nothing written before is lost, nothing from step BAD on exists, and every
# checkpoint left loads and predicts finite values.
for s in 1 2 3 4; do [ -f $T/ck/model.ckpt-$s ] || fail "checkpoint $s written before the divergence is gone"; done
for s in $(steps_in $T/ck); do
  [ "$s" -lt "$BAD" ] || fail "a checkpoint of the poisoned state exists: model.ckpt-$s (error at step $BAD)"
  "$G" eval --gematria_checkpoint_file=$T/ck/model.ckpt-$s --gematria_input_file=$DATA --json >$T/e$s.json \
    2>$T/e$s.err || fail "eval of model.ckpt-$s: $(tail -1 $T/e$s.err)"
  grep -q '"count": 2157' $T/e$s.json || fail "eval of model.ckpt-$s did not predict all 2157 blocks"
  grep -qi 'nan' $T/e$s.json && fail "eval of model.ckpt-$s gives NaN: $(head -c 300 $T/e$s.json)"
done
NEWEST=$(steps_in $T/ck | tail -1)
grep -q "model_checkpoint_path: \"model.ckpt-$NEWEST\"" $T/ck/checkpoint ||
  fail "the checkpoint index does not name the newest file model.ckpt-$NEWEST: $(head -2 $T/ck/checkpoint)"
head -c "$(wc -c <$T/metrics_before.jsonl)" $T/ck/metrics.jsonl | cmp -s - $T/metrics_before.jsonl ||
  fail "metrics.jsonl lost lines of the healthy run"
ls $T/ck | grep -q 'tmp' && fail "temporary files left: $(ls $T/ck)"

# Running the healthy command again resumes from the newest good checkpoint.
"$G" $RUN --gematria_training_num_epochs=$((NEWEST + 1)) 2>$T/again.err || fail "resume after the divergence failed"
grep -q "resuming from .*model.ckpt-$NEWEST " $T/again.err || fail "did not resume from model.ckpt-$NEWEST"

if [ $FAILS -ne 0 ]; then
  echo "e2e_training_errors: $FAILS failure(s)" >&2
  exit 1
fi
echo "e2e_training_errors: divergence at step $BAD stopped cleanly; checkpoints 1..$NEWEST kept and load"

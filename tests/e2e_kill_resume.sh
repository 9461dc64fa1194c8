#!/bin/sh
# kill -9 in the middle of training, then the same command again: it resumes
# from the newest checkpoint on disk, reaches the target, keeps the metrics
# log, and a stale temporary file of the killed process (model.ckpt-N.tmp-PID)
# neither breaks nor misleads it. $1 = the granite binary.
set -u
G=${1:?usage: e2e_kill_resume.sh path/to/granite}
case "$G" in /*) ;; *) G="$(pwd)/$G" ;; esac
DATA=data/sample/sample.tfrecord
VOCAB=data/sample/vocab.txt
T=$(mktemp -d /tmp/granite_e2e_kill_XXXXXX)
PID=
trap '[ -n "$PID" ] && kill -9 $PID 2>/dev/null; rm -rf "$T"' EXIT
export OMP_WAIT_POLICY=passive
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
steps_in() { ls "$1" | sed -n 's/^model\.ckpt-\([0-9]*\)$/\1/p' | sort -n; }

TARGET=400
SMALL="--gematria_node_embedding_size=32 --gematria_edge_embedding_size=32 --gematria_global_embedding_size=32
  --gematria_node_update_layers=32 --gematria_edge_update_layers=32 --gematria_global_update_layers=32
  --gematria_task_readout_layers=32 --gematria_num_message_passing_iterations=4"
RUN="train --gematria_checkpoint_dir=$T/ck --gematria_tokens_file=$VOCAB --gematria_input_file=$DATA
  --gematria_max_blocks_in_batch=50 --gematria_save_checkpoint_epochs=5 --gematria_checkpoint_max_to_keep=3
  --gematria_log_interval_secs=0 --gematria_training_num_epochs=$TARGET --gematria_num_threads=1 $SMALL"

"$G" $RUN 2>$T/first.err &
PID=$!
# poll until two checkpoints exist, then kill without warning
i=0
while [ $i -lt 600 ] && [ "$(steps_in $T/ck 2>/dev/null | wc -l)" -lt 2 ]; do sleep 0.05; i=$((i + 1)); done
kill -9 $PID 2>/dev/null
wait $PID
rc=$?
PID=
[ $rc -eq 137 ] || fail "the first run was not killed (status $rc; it finished too fast?)"
grep -q "finished at global step" $T/first.err && fail "the first run finished before the kill"
[ -d $T/ck ] || { echo "FAIL: the first run wrote nothing: $(tail -2 $T/first.err)" >&2; exit 1; }
N=$(steps_in $T/ck | tail -1)
[ -n "$N" ] || { fail "no checkpoint before the kill"; N=0; }
[ "$N" -lt $TARGET ] || fail "killed at the target already"
LOGGED=$(wc -l <$T/ck/metrics.jsonl)
[ "$LOGGED" -ge "$N" ] || fail "metrics.jsonl has $LOGGED lines after $N steps"
cp $T/ck/metrics.jsonl $T/metrics_before.jsonl

# The worst moment for a kill: the newest checkpoint renamed into place but
# the index not yet updated. Make it so (if the kill did not already).
grep -v "model.ckpt-$N\"" $T/ck/checkpoint >$T/index
PREV=$(sed -n 's/^all_model_checkpoint_paths: "model.ckpt-\([0-9]*\)"$/\1/p' $T/index | tail -1)
[ -n "$PREV" ] && sed -i "1i model_checkpoint_path: \"model.ckpt-$PREV\"" $T/index
cp $T/index $T/ck/checkpoint
# A temporary file as a killed save leaves it, with a higher step number than
# any real checkpoint, and a truncated body: must be ignored.
head -c 100 $T/ck/model.ckpt-$N >$T/ck/model.ckpt-99999.tmp-4242

"$G" $RUN 2>$T/second.err || fail "the rerun failed: $(tail -2 $T/second.err)"
grep -q "resuming from .*model.ckpt-$N (global step $N)" $T/second.err ||
  fail "did not resume from the newest checkpoint model.ckpt-$N: $(grep -i 'resum\|error' $T/second.err)"
grep -q "from step $N to $TARGET" $T/second.err || fail "start-up line: $(grep 'training seq' $T/second.err)"
grep -q "finished at global step $TARGET" $T/second.err || fail "the rerun did not finish at $TARGET"
[ -f $T/ck/model.ckpt-$TARGET ] || fail "no checkpoint at the target step"
[ "$(steps_in $T/ck | wc -l)" -eq 3 ] || fail "checkpoint_max_to_keep=3 not honoured: $(steps_in $T/ck | tr '\n' ' ')"
grep -q "model_checkpoint_path: \"model.ckpt-$TARGET\"" $T/ck/checkpoint || fail "index does not name the target"
# the log keeps the killed run's lines, then marks the resume point, then goes on
head -c "$(wc -c <$T/metrics_before.jsonl)" $T/ck/metrics.jsonl | cmp -s - $T/metrics_before.jsonl ||
  fail "metrics.jsonl lost or changed the killed run's lines"
sed -n "$((LOGGED + 1))p" $T/ck/metrics.jsonl | grep -q "^{\"step\": $N, \"resumed\": true}$" ||
  fail "no resume record after the old lines: $(sed -n "$((LOGGED + 1))p" $T/ck/metrics.jsonl)"
tail -1 $T/ck/metrics.jsonl | grep -q "^{\"step\": $TARGET," || fail "the log does not end at step $TARGET"
grep -v '^{.*}$' $T/ck/metrics.jsonl | head -1 | grep -q . && fail "metrics.jsonl has a torn line"
# the stale file is the only temporary file, and nothing was confused by it
# (the killed process may have left its own model.ckpt-N.tmp-PID or
# checkpoint.tmp-PID if killed while saving; nothing else may be left)
ls $T/ck | grep tmp | grep -v '^\(model\.ckpt-[0-9]*\|checkpoint\)\.tmp-[0-9]*$' | head -1 | grep -q . &&
  fail "unexpected temporary files: $(ls $T/ck | grep tmp | tr '\n' ' ')"
# issue 11: a temporary file of a process that no longer runs is swept by the next save
if kill -0 4242 2>/dev/null; then :; else
  [ -f $T/ck/model.ckpt-99999.tmp-4242 ] && fail "the stale file of dead process 4242 was not swept"
fi
head -c 100 $T/ck/model.ckpt-$TARGET >$T/ck/model.ckpt-99999.tmp-4242 # again, for the checks below
"$G" eval --gematria_checkpoint_file=$T/ck/model.ckpt-$TARGET --gematria_input_file=$DATA --json >$T/e.json \
  2>$T/e.err || fail "eval of the final checkpoint: $(tail -1 $T/e.err)"
grep -q '"count": 2157' $T/e.json || fail "eval of the final checkpoint did not predict every block"
# the stale file itself is refused with an error, not loaded
if "$G" eval --gematria_checkpoint_file=$T/ck/model.ckpt-99999.tmp-4242 --gematria_input_file=$DATA \
  >/dev/null 2>$T/tmp.err; then
  fail "a truncated temporary file loaded as a checkpoint"
fi
[ "$(grep -c 'error:' $T/tmp.err)" -eq 1 ] || fail "loading the stale file: $(cat $T/tmp.err)"

if [ $FAILS -ne 0 ]; then
  echo "e2e_kill_resume: $FAILS failure(s)" >&2
  exit 1
fi
echo "e2e_kill_resume: killed after step $N, resumed from it, finished at $TARGET"

#!/bin/sh
# TensorBoard event files written by training, read back by an independent
# decoder (tests/tfevents_decode.py: its own CRC32C and protobuf parsing):
# the version record, Gematria's summary names at the right steps with the
# values of metrics.jsonl, validation MAPE; the default directory; a resumed
# run; a run killed mid-training leaves a readable file; summaries off; a bad
# summary directory. $1 = the granite binary.
set -u
G=${1:?usage: e2e_tensorboard.sh path/to/granite}
case "$G" in /*) ;; *) G="$(pwd)/$G" ;; esac
command -v python3 >/dev/null || { echo "python3 not found: skipped"; exit 77; }
D="$(pwd)/tests/tfevents_decode.py"
T=$(mktemp -d /tmp/granite_e2e_tb_XXXXXX)
trap 'rm -rf "$T"' EXIT
export OMP_WAIT_POLICY=passive
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }

RUN="train --gematria_tokens_file=data/sample/vocab.txt --gematria_input_file=data/sample/sample.tfrecord
  --gematria_max_blocks_in_batch=20 --gematria_node_embedding_size=16 --gematria_edge_embedding_size=16
  --gematria_global_embedding_size=16 --gematria_node_update_layers=16 --gematria_edge_update_layers=16
  --gematria_global_update_layers=16 --gematria_task_readout_layers=16 --gematria_num_message_passing_iterations=2
  --gematria_num_threads=1 --gematria_log_interval_secs=0 --gematria_validation_fraction=0.2
  --gematria_validation_epochs=3 --gematria_save_checkpoint_epochs=4"
count() { ls "$1" 2>/dev/null | grep -c '^events\.out\.tfevents\.' ; }

# 1. summaries every 2 steps in a separate directory, checked against metrics.jsonl
"$G" $RUN --gematria_training_num_epochs=8 --gematria_save_summaries_epochs=2 --gematria_checkpoint_dir=$T/a \
  --gematria_summary_dir=$T/a-tb 2>$T/a.err || fail "training with summaries: $(tail -1 $T/a.err)"
[ "$(count $T/a-tb)" = 1 ] || fail "expected one event file in the summary dir, got $(ls $T/a-tb)"
[ "$(count $T/a)" = 0 ] || fail "event file written to the checkpoint dir although --gematria_summary_dir was given"
case "$(ls $T/a-tb)" in events.out.tfevents.[0-9]*.$(hostname)) ;; *) fail "event file name $(ls $T/a-tb)" ;; esac
python3 "$D" check $T/a-tb/events.out.tfevents.* $T/a/metrics.jsonl 2 default 50,90,95,99 || fail "run a: events"

# 2. default directory: the checkpoint dir; other percentile ranks; resumed run: a second file
"$G" $RUN --gematria_training_num_epochs=6 --gematria_save_summaries_epochs=3 --gematria_checkpoint_dir=$T/b \
  --gematria_collected_percentile_ranks=10,75 2>$T/b.err || fail "run b: $(tail -1 $T/b.err)"
[ "$(count $T/b)" = 1 ] || fail "expected one event file in the checkpoint dir"
python3 "$D" check $T/b/events.out.tfevents.* $T/b/metrics.jsonl 3 default 10,75 || fail "run b: events"
first=$(ls $T/b/events.out.tfevents.*)
sleep 1
"$G" $RUN --gematria_training_num_epochs=12 --gematria_save_summaries_epochs=3 --gematria_checkpoint_dir=$T/b \
  --gematria_collected_percentile_ranks=10,75 2>$T/b2.err || fail "run b resumed: $(tail -1 $T/b2.err)"
[ "$(count $T/b)" = 2 ] || fail "a resumed run should add a second event file"
[ "$(python3 "$D" steps "$first")" = "2 5" ] || fail "first run's file changed: $(python3 "$D" steps "$first")"
second=$(ls $T/b/events.out.tfevents.* | grep -v "^$first\$")
[ "$(python3 "$D" steps "$second")" = "8 11" ] || fail "resumed run's steps: $(python3 "$D" steps "$second")"

# 3. killed mid-training (summaries every step): every record but at most a torn last one reads back
"$G" $RUN --gematria_training_num_epochs=0 --gematria_save_summaries_epochs=1 --gematria_checkpoint_dir=$T/c \
  2>$T/c.err &
pid=$!
for _ in $(seq 1 300); do
  f=$(ls $T/c/events.out.tfevents.* 2>/dev/null)
  [ -n "$f" ] && [ "$(wc -c <"$f")" -gt 3000 ] && break
  sleep 0.1
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
out=$(python3 "$D" torn $T/c/events.out.tfevents.*) || fail "killed run: file does not decode: $out"
case "$out" in whole=[1-9]*) ;; *) fail "killed run: $out" ;; esac
# a record cut in the middle is skipped, not an error (what TensorBoard does too)
f=$(ls $T/c/events.out.tfevents.*)
head -c $(($(wc -c <"$f") - 7)) "$f" >$T/torn
case "$(python3 "$D" torn $T/torn)" in *torn=1) ;; *) fail "torn copy not seen as torn" ;; esac

# 4. --gematria_save_summaries_epochs=0: no event file
"$G" $RUN --gematria_training_num_epochs=2 --gematria_save_summaries_epochs=0 --gematria_checkpoint_dir=$T/d \
  2>$T/d.err || fail "run d"
[ "$(count $T/d)" = 0 ] || fail "summaries written with --gematria_save_summaries_epochs=0"

# 5. a summary directory that cannot be created: one error line naming it, exit non-zero
: >$T/file
if "$G" $RUN --gematria_training_num_epochs=2 --gematria_checkpoint_dir=$T/e --gematria_summary_dir=$T/file/x \
  2>$T/e.err; then fail "bad summary dir accepted"; fi
grep -q "$T/file/x" $T/e.err || fail "error does not name the summary dir: $(cat $T/e.err)"

[ $FAILS = 0 ] && echo "e2e_tensorboard: all passed"
exit $FAILS

#!/bin/sh
# granite runs on two tiny training runs that differ in the learning rate:
# the table (one line per run, the differing flag and nothing else, steps,
# validation MAPE equal to what training logged), the PNG (signature, IHDR
# size), and bad inputs. $1 = the granite binary.
set -u
G=${1:?usage: e2e_runs.sh path/to/granite}
DATA=data/sample/sample.tfrecord
VOCAB=data/sample/vocab.txt
T=$(mktemp -d /tmp/granite_e2e_runs_XXXXXX)
trap 'rm -rf "$T"' EXIT
export OMP_WAIT_POLICY=passive
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }

for lr in 0.001 0.01; do
  "$G" train --gematria_checkpoint_dir=$T/lr$lr --gematria_tokens_file=$VOCAB --gematria_input_file=$DATA \
    --gematria_max_blocks_in_batch=10 --gematria_training_num_epochs=12 --gematria_validation_fraction=0.2 \
    --gematria_validation_epochs=4 --gematria_log_interval_secs=0 --gematria_node_embedding_size=8 \
    --gematria_edge_embedding_size=8 --gematria_global_embedding_size=8 --gematria_num_message_passing_iterations=1 \
    --gematria_learning_rate=$lr 2>$T/train$lr.err || fail "training lr=$lr: $(tail -2 $T/train$lr.err)"
  grep -q "^--gematria_learning_rate=$lr\$" $T/lr$lr/flags.txt || fail "flags.txt of lr=$lr lacks the rate"
done

"$G" runs $T/lr0.001 $T/lr0.01 --plot $T/curves.png >$T/table.txt 2>$T/runs.err || fail "runs: $(cat $T/runs.err)"
[ "$(wc -l <$T/table.txt)" -eq 3 ] || fail "want a header and 2 lines: $(cat $T/table.txt)"
grep -q "flags that differ" $T/table.txt || fail "no header: $(head -1 $T/table.txt)"
for lr in 0.001 0.01; do
  line=$(grep "^$T/lr$lr " $T/table.txt)
  [ -n "$line" ] || fail "no line for lr=$lr"
  # the only flag that differs is the rate (the checkpoint directory is the run's name)
  flags=$(echo "$line" | sed 's/.*  //')
  [ "$flags" = "learning_rate=$lr" ] || fail "lr=$lr: flags that differ: '$flags'"
  set -- $line
  [ "$2" = 12 ] || fail "lr=$lr: steps '$2', want 12"
  # the last and best validation MAPE are the ones training logged
  want=$(grep '"validation"' $T/lr$lr/metrics.jsonl | tail -1 | sed 's/.*"relative_mae": \[\([^]]*\)\].*/\1/')
  want=$(awk -v x="$want" 'BEGIN { printf "%.2f%%", 100 * x }')
  [ "$5" = "$want" ] || fail "lr=$lr: last validation MAPE '$5', metrics.jsonl says $want"
  best=$(grep '"validation"' $T/lr$lr/metrics.jsonl | sed 's/.*"relative_mae": \[\([^]]*\)\].*/\1/' | sort -g | head -1)
  best=$(awk -v x="$best" 'BEGIN { printf "%.2f%%", 100 * x }')
  [ "$6" = "$best" ] || fail "lr=$lr: best validation MAPE '$6', metrics.jsonl says $best"
done

# the PNG: signature, then the IHDR chunk with width 1200 and height 450 + 18 per run
sig=$(od -An -tx1 -N8 $T/curves.png | tr -d ' \n')
[ "$sig" = 89504e470d0a1a0a ] || fail "not a PNG signature: $sig"
ihdr=$(od -An -tx1 -j12 -N12 $T/curves.png | tr -d ' \n')
[ "$ihdr" = 49484452000004b0000001e6 ] || fail "IHDR type/width/height: $ihdr (want IHDR, 1200, 486)"
"$G" runs $T/lr0.01 --plot $T/small.png --width 640 --height 300 >/dev/null 2>&1 || fail "runs --width --height"
ihdr=$(od -An -tx1 -j12 -N12 $T/small.png | tr -d ' \n')
[ "$ihdr" = 49484452000002800000012c ] || fail "IHDR of 640x300: $ihdr"
[ "$(stat -c %s $T/curves.png)" -gt 5000 ] || fail "the PNG is suspiciously small: $(stat -c %s $T/curves.png) bytes"

# one run alone: no flag differs
"$G" runs $T/lr0.01 >$T/one.txt 2>/dev/null || fail "runs with one run"
grep -q "(no flag differs)" $T/one.txt || fail "one run: $(head -1 $T/one.txt)"

# bad inputs: one error line, exit non-zero, the existing PNG untouched
cp $T/curves.png $T/keep.png
"$G" runs $T/lr0.01 $T/absent --plot $T/curves.png >$T/bad.out 2>$T/bad.err
[ $? -ne 0 ] || fail "a missing run directory was accepted"
[ "$(grep -c 'error:' $T/bad.err)" -eq 1 ] && grep -q "$T/absent: not a directory" $T/bad.err ||
  fail "missing run directory: $(cat $T/bad.err)"
cmp -s $T/curves.png $T/keep.png || fail "the PNG changed although the command failed"
[ -s $T/bad.out ] && fail "a table was printed although a run is missing"
mkdir $T/empty
"$G" runs $T/empty 2>$T/empty.err
[ $? -ne 0 ] && grep -q "$T/empty/metrics.jsonl" $T/empty.err || fail "a directory without metrics.jsonl: $(cat $T/empty.err)"
"$G" runs $T/lr0.01 --plot $T/nodir/x.png >/dev/null 2>$T/nodir.err
[ $? -ne 0 ] && grep -q "nodir/x.png: cannot write the PNG" $T/nodir.err || fail "unwritable PNG: $(cat $T/nodir.err)"
ls $T/nodir 2>/dev/null && fail "something was created for the unwritable PNG"
"$G" runs 2>$T/none.err
[ $? -eq 2 ] && grep -q "no checkpoint directory given" $T/none.err || fail "no directory: $(cat $T/none.err)"
"$G" runs $T/lr0.01 --plot $T/w.png --width 10 2>$T/w.err
[ $? -eq 2 ] && grep -q -- "--width" $T/w.err || fail "--width 10: $(cat $T/w.err)"
[ -e $T/w.png ] && fail "a PNG was written with a bad --width"

[ $FAILS -eq 0 ] && echo "e2e_runs: ok"
exit $FAILS

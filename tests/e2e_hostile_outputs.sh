#!/bin/sh
# Issue 11, holes 3 to 8, as a hostile user reproduces them: outputs written
# through temp + rename must not replace devices or links, must not be an
# input, must be committed only when complete (predict's CSV too), must not
# leave temporaries after a signal or a kill -9; resume follows the step
# stored in a checkpoint; a flag whose value is missing must not swallow the
# next flag. $1 = the granite binary. Each case is named hole<N>_<what>.
set -u
G=${1:?usage: e2e_hostile_outputs.sh path/to/granite}
case "$G" in /*) ;; *) G="$(pwd)/$G" ;; esac
DATA=data/sample/sample.tfrecord
VOCAB=data/sample/vocab.txt
CSV=data/sample/haswell.csv
T=$(mktemp -d /tmp/granite_e2e_out_XXXXXX)
trap 'rm -rf "$T"' EXIT
export OMP_WAIT_POLICY=passive
FAILS=0
CHECKS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
check() { CHECKS=$((CHECKS + 1)); }
no_temps() { ls -a "$1" | grep -q '\.tmp-' && fail "$2: temporary files left: $(ls -a "$1" | grep '\.tmp-')"; check; }
one_error() { # $1 = stderr file, $2 = text the error line must contain, $3 = case
  n=$(grep -c 'error:' "$1"); check
  [ "$n" -eq 1 ] || fail "$3: want one error line, got $n: $(cat "$1")"
  grep 'error:' "$1" | grep -q -- "$2" || fail "$3: the error does not say '$2': $(grep error: "$1")"
}
head -n 40 $CSV >$T/small.csv
SMALL="--gematria_node_embedding_size=8 --gematria_edge_embedding_size=8 --gematria_global_embedding_size=8
  --gematria_node_update_layers=8 --gematria_edge_update_layers=8 --gematria_global_update_layers=8
  --gematria_task_readout_layers=8 --gematria_num_message_passing_iterations=1"
"$G" import-bhive --quiet --output $T/small.tfrecord $T/small.csv || fail "import of the small CSV"
"$G" train --gematria_checkpoint_dir=$T/ck --gematria_tokens_file=$VOCAB --gematria_input_file=$T/small.tfrecord \
  --gematria_max_blocks_in_batch=10 --gematria_training_num_epochs=2 --gematria_save_checkpoint_epochs=1 $SMALL \
  2>$T/train.err || fail "train: $(tail -1 $T/train.err)"
CK=$T/ck/model.ckpt-2
PREDICT="predict --gematria_checkpoint_file=$CK --gematria_input_file=$T/small.tfrecord"

# hole3_device: a device node stays a device (as root /dev/null was replaced
# by a regular file); a copy of /dev/null in $T when we may create one.
if mknod $T/null c 1 3 2>/dev/null; then
  "$G" $PREDICT --gematria_output_file=$T/null --gematria_output_csv=$T/null2 2>$T/e || fail "hole3 predict: $(cat $T/e)"
  "$G" import-bhive --quiet --output $T/null $T/small.csv 2>$T/e || fail "hole3 import-bhive: $(cat $T/e)"
  "$G" tokens --quiet --output $T/null $T/small.tfrecord 2>$T/e || fail "hole3 tokens: $(cat $T/e)"
  [ -c $T/null ] || fail "hole3_device: $T/null is no longer a character device"
  check
else
  echo "hole3_device: cannot create a device node here (not root); /dev/null through a link instead" >&2
fi
# hole3_symlink: a link to /dev/null and a link to a regular file both stay
# links; the regular target receives the content
ln -s /dev/null $T/to_null
: >$T/real.tfrecord
ln -s real.tfrecord $T/link.tfrecord
"$G" $PREDICT --gematria_output_file=$T/to_null 2>$T/e || fail "hole3 predict to a link to /dev/null: $(cat $T/e)"
"$G" $PREDICT --gematria_output_file=$T/link.tfrecord 2>$T/e || fail "hole3 predict to a link: $(cat $T/e)"
"$G" tokens --quiet --output $T/to_null $T/small.tfrecord 2>$T/e || fail "hole3 tokens to a link: $(cat $T/e)"
[ -L $T/to_null ] && [ -c /dev/null ] || fail "hole3_symlink: the link to /dev/null was replaced"
[ -L $T/link.tfrecord ] || fail "hole3_symlink: the link to a regular file was replaced"
"$G" stats $T/real.tfrecord >$T/stats.out 2>&1 || fail "hole3_symlink: the link's target is not a valid output"
grep -q 40 $T/stats.out || fail "hole3_symlink: the target does not hold the 40 records: $(head -3 $T/stats.out)"
check; check; check
no_temps $T hole3

# hole4_output_is_input: refused with exit != 0, the input unchanged; also
# through a link and a hard link (same device and inode)
cp $T/small.csv $T/a.csv
cp $T/small.tfrecord $T/b.tfrecord
ln $T/b.tfrecord $T/b_hard.tfrecord
ln -s a.csv $T/a_link.csv
cksum $T/a.csv $T/b.tfrecord >$T/sums
"$G" import-bhive --output $T/a.csv $T/a.csv 2>$T/e; rc=$?
[ $rc -ne 0 ] || fail "hole4 import-bhive --output a.csv a.csv exited 0"
one_error $T/e "is the input file" hole4_import
"$G" import-bhive --output $T/a_link.csv $T/a.csv 2>$T/e && fail "hole4 import-bhive through a link exited 0"
"$G" tokens --output $T/b.tfrecord $T/b.tfrecord 2>$T/e && fail "hole4 tokens --output b b exited 0"
one_error $T/e "is the input file" hole4_tokens
"$G" tokens --output $T/b_hard.tfrecord $T/b.tfrecord 2>$T/e && fail "hole4 tokens to a hard link exited 0"
"$G" predict --gematria_checkpoint_file=$CK --gematria_input_file=$T/b.tfrecord --gematria_output_file=$T/o.tfrecord \
  --gematria_output_csv=$T/b.tfrecord 2>$T/e && fail "hole4 predict --gematria_output_csv=<input> exited 0"
one_error $T/e "gematria_output_csv" hole4_predict_csv
"$G" predict --gematria_checkpoint_file=$CK --gematria_input_file=$T/b.tfrecord \
  --gematria_output_file=$T/b_hard.tfrecord 2>$T/e && fail "hole4 predict --gematria_output_file=<input> exited 0"
"$G" predict --gematria_checkpoint_file=$CK --gematria_input_file=$T/b.tfrecord --gematria_output_file=$CK \
  2>$T/e && fail "hole4 predict --gematria_output_file=<the checkpoint> exited 0"
cksum $T/a.csv $T/b.tfrecord | cmp -s - $T/sums || fail "hole4: an input was changed"
check; check; check; check; check

# hole5_csv_atomic: a failing predict keeps an existing CSV as it was and
# leaves no partial file: output directory missing, file size limit
printf 'old,1\n' >$T/keep.csv
"$G" $PREDICT --gematria_output_file=$T/missing_dir/o.tfrecord --gematria_output_csv=$T/keep.csv 2>$T/e &&
  fail "hole5 predict into a missing directory exited 0"
[ "$(cat $T/keep.csv)" = "old,1" ] || fail "hole5_missing_dir: the CSV was changed: $(head -c 100 $T/keep.csv)"
(ulimit -f 2; "$G" $PREDICT --gematria_output_file=$T/big.tfrecord --gematria_output_csv=$T/keep.csv) 2>$T/e &&
  fail "hole5 predict over the file size limit exited 0"
grep -q 'error:' $T/e || fail "hole5_ulimit: no error line: $(tail -2 $T/e)"
[ "$(cat $T/keep.csv)" = "old,1" ] || fail "hole5_ulimit: the CSV was changed: $(head -c 100 $T/keep.csv)"
[ -e $T/big.tfrecord ] && fail "hole5_ulimit: a partial $T/big.tfrecord exists"
no_temps $T hole5
# and a good run replaces it with one row per block
"$G" $PREDICT --gematria_output_file=$T/p.tfrecord --gematria_output_csv=$T/keep.csv 2>$T/e || fail "hole5 good run"
[ "$(wc -l <$T/keep.csv)" -eq 40 ] || fail "hole5: the CSV has $(wc -l <$T/keep.csv) rows, want 40"
check; check; check; check

# collect_outputs: filter, extract and cost write through the same output
# code: an output that is an input is refused, a failing run keeps the
# existing CSV, links stay links
cksum $T/b.tfrecord >$T/sums
"$G" filter --output $T/b.tfrecord $T/b.tfrecord 2>$T/e && fail "filter --output <input> exited 0"
one_error $T/e "is the input file" collect_filter_output
"$G" filter --output $T/f.tfrecord --csv $T/b_hard.tfrecord $T/b.tfrecord 2>$T/e && fail "filter --csv <input> exited 0"
one_error $T/e "is the input file" collect_filter_csv
cp /bin/true $T/prog
"$G" extract --csv $T/prog $T/prog 2>$T/e && fail "extract --csv <input> exited 0"
one_error $T/e "is the input file" collect_extract_csv
"$G" cost --checkpoint $CK --csv $T/prog $T/prog 2>$T/e && fail "cost --csv <the ELF file> exited 0"
one_error $T/e "is the input file" collect_cost_elf
"$G" cost --checkpoint $CK --csv $CK $T/prog 2>$T/e && fail "cost --csv <the checkpoint> exited 0"
one_error $T/e "is the input file" collect_cost_checkpoint
cmp -s /bin/true $T/prog && cksum $T/b.tfrecord | cmp -s - $T/sums || fail "collect_outputs: an input was changed"
printf 'old\n' >$T/keep2.csv
(ulimit -f 1; "$G" filter --quiet --output $T/f.tfrecord --csv $T/keep2.csv $T/small.tfrecord) 2>$T/e &&
  fail "filter over the file size limit exited 0"
[ "$(cat $T/keep2.csv)" = old ] || fail "collect_filter_ulimit: the CSV was changed: $(head -c 100 $T/keep2.csv)"
[ -e $T/f.tfrecord ] && fail "collect_filter_ulimit: a partial $T/f.tfrecord exists"
"$G" filter --quiet --output $T/to_null --csv $T/keep2.csv $T/small.tfrecord 2>$T/e || fail "filter to a link: $(cat $T/e)"
[ -L $T/to_null ] || fail "collect_filter_link: the link to /dev/null was replaced"
[ "$(wc -l <$T/keep2.csv)" -ge 30 ] || fail "collect_filter: the CSV has $(wc -l <$T/keep2.csv) rows"
no_temps $T collect_outputs
check; check; check; check

# hole6_signal: SIGTERM (Ctrl-C's SIGINT is ignored by background jobs of a
# script; the same handler serves both) while predict holds its temporary
# output (it waits to open a FIFO given as the CSV) removes the temporary file
mkfifo $T/fifo.csv
timeout 120 "$G" $PREDICT --gematria_output_file=$T/sig.tfrecord --gematria_output_csv=$T/fifo.csv 2>$T/e &
pid=$!
i=0
while [ $i -lt 300 ] && ! ls -a $T | grep -q 'sig.tfrecord.tmp-'; do sleep 0.1; i=$((i + 1)); done
ls -a $T | grep -q 'sig.tfrecord.tmp-' || fail "hole6: predict never created its temporary file"
kill -TERM $pid
wait $pid; rc=$?
[ $rc -ne 0 ] || fail "hole6: predict stopped by SIGTERM exited 0"
[ -e $T/sig.tfrecord ] && fail "hole6: a partial output exists after SIGTERM"
no_temps $T hole6_signal
check; check
# hole6_stale: a temporary file of a process that no longer runs (kill -9
# during a save) is swept by the next run writing that output or directory
dead=$(sh -c 'echo $$')
: >$T/ck/model.ckpt-7.tmp-$dead
: >$T/ck/checkpoint.tmp-$dead
: >$T/p.tfrecord.tmp-$dead
: >$T/ck/unrelated.tmp-$dead
"$G" $PREDICT --gematria_output_file=$T/p.tfrecord 2>$T/e || fail "hole6_stale predict: $(cat $T/e)"
[ -e $T/p.tfrecord.tmp-$dead ] && fail "hole6_stale: predict left p.tfrecord.tmp-$dead"
"$G" train --gematria_checkpoint_dir=$T/ck --gematria_tokens_file=$VOCAB --gematria_input_file=$T/small.tfrecord \
  --gematria_max_blocks_in_batch=10 --gematria_training_num_epochs=3 --gematria_save_checkpoint_epochs=1 $SMALL \
  2>$T/e || fail "hole6_stale train: $(tail -1 $T/e)"
[ -e $T/ck/model.ckpt-7.tmp-$dead ] && fail "hole6_stale: train left model.ckpt-7.tmp-$dead"
[ -e $T/ck/checkpoint.tmp-$dead ] && fail "hole6_stale: train left checkpoint.tmp-$dead"
[ -e $T/ck/unrelated.tmp-$dead ] || fail "hole6_stale: a file that is not ours was removed"
check; check; check; check

# hole7_resume_by_stored_step: the newest state is the one with the highest
# step stored inside, whatever the names say
mkdir $T/ck7
cp $T/ck/model.ckpt-3 $T/ck7/model.ckpt-0
cp $T/ck/model.ckpt-2 $T/ck7/model.ckpt-2
"$G" train --gematria_checkpoint_dir=$T/ck7 --gematria_tokens_file=$VOCAB --gematria_input_file=$T/small.tfrecord \
  --gematria_max_blocks_in_batch=10 --gematria_training_num_epochs=4 --gematria_save_checkpoint_epochs=1 $SMALL \
  2>$T/e || fail "hole7 train: $(tail -1 $T/e)"
grep -q "resuming from $T/ck7/model.ckpt-0 (global step 3)" $T/e || fail "hole7: did not resume from step 3: $(grep -i 'resum\|warm' $T/e)"
grep -q "model.ckpt-0 holds global step 3 although its name says 0" $T/e || fail "hole7: no warning about the name"
[ -e $T/ck7/model.ckpt-4 ] || fail "hole7: no model.ckpt-4 after resuming at step 3: $(ls $T/ck7)"
check; check; check

# hole8_missing_value: a flag without its value must not swallow the next flag
mkdir $T/cwd8 # run where a swallowed flag would create its directory
(cd $T/cwd8 && timeout 60 "$G" train --gematria_checkpoint_dir --gematria_training_num_epochs=3 \
  --gematria_tokens_file=$OLDPWD/$VOCAB --gematria_input_file=$T/small.tfrecord 2>$T/e) &&
  fail "hole8: train with a swallowed flag exited 0"
one_error $T/e "gematria_checkpoint_dir needs a value" hole8_train
[ -z "$(ls -A $T/cwd8)" ] || fail "hole8: created $(ls -A $T/cwd8) named after a flag"
(cd $T/cwd8 && "$G" import-bhive --output --quiet $T/small.csv 2>$T/e) && fail "hole8: import-bhive --output --quiet exited 0"
one_error $T/e "output needs a value" hole8_import
(cd $T/cwd8 && "$G" tokens --output --quiet $T/small.tfrecord 2>$T/e) && fail "hole8: tokens --output --quiet exited 0"
one_error $T/e "output needs a value" hole8_tokens
[ -z "$(ls -A $T/cwd8)" ] || fail "hole8: wrote $(ls -A $T/cwd8) named after a flag"
check; check

# flag values that are meaningless: refused with one error line naming the flag
for fl in --gematria_learning_rate=nan --gematria_max_blocks_in_batch=0 --gematria_validation_fraction=1.5 \
  --gematria_num_message_passing_iterations=0 --gematria_learning_rate=-1 --gematria_decay_rate=inf \
  --gematria_checkpoint_max_to_keep=-3 --gematria_grad_clip_norm=nan --gematria_input_file_scaling=0 \
  --gematria_input_file_scaling=-2 --gematria_max_instructions_in_batch=0 --gematria_node_embedding_size=100000; do
  (cd $T/cwd8 && timeout 60 "$G" train --gematria_checkpoint_dir=$T/flagck --gematria_tokens_file=$OLDPWD/$VOCAB \
    --gematria_input_file=$T/small.tfrecord --gematria_training_num_epochs=1 $fl 2>$T/e) &&
    fail "flag_values: $fl accepted"
  one_error $T/e "${fl%%=*}\|embedding sizes" "flag_values $fl"
done
[ -e $T/flagck/model.ckpt-1 ] && fail "flag_values: a run with a bad flag trained"

[ $CHECKS -gt 0 ] || { echo "e2e_hostile_outputs: no check ran" >&2; exit 1; }
[ $FAILS -eq 0 ] || { echo "e2e_hostile_outputs: $FAILS failure(s)" >&2; exit 1; }
echo "e2e_hostile_outputs: $CHECKS checks passed"

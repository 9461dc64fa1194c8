#!/bin/sh
# Sharded predict and eval: `mpirun -np R granite predict|eval` writes the
# same bytes as one process (the .tfrecord, the CSV, eval's table and JSON),
# for 3 ranks and batches of 100, 2 ranks and a seq2seq model whose
# per-instruction prefixes are gathered too. A checkpoint missing on one
# rank's machine ends the job with one line naming that rank and no output.
set -u
. tests/lib_mpi.sh
T=$(mktemp -d /tmp/granite_mpi_predict_XXXXXX)
trap 'rm -rf "$T"' EXIT
TRAIN="train --gematria_tokens_file=$VOCAB --gematria_input_file=$DATA --gematria_max_blocks_in_batch=64
  --gematria_log_interval_secs=0 --gematria_training_num_epochs=3 --gematria_num_threads=1 $SMALL"
"$G" $TRAIN --gematria_checkpoint_dir=$T/ck 2>$T/train.err || fail "training: $(tail -1 $T/train.err)"
"$G" $TRAIN --gematria_checkpoint_dir=$T/ck2s --gematria_seq2seq --nogematria_use_seq2seq_loss 2>$T/train2.err ||
  fail "seq2seq training: $(tail -1 $T/train2.err)"

# one process, then R ranks, same flags: same bytes
same_predictions() { # label ckpt np extra-flags...
  label=$1 ck=$2 np=$3
  shift 3
  P="predict --gematria_checkpoint_file=$ck --gematria_input_file=$DATA --gematria_num_threads=1 $*"
  "$G" $P --gematria_output_file=$T/one.tfrecord --gematria_output_csv=$T/one.csv 2>$T/one.err ||
    fail "$label: one process: $(tail -1 $T/one.err)"
  mpirun_within 120 -np $np "$G" $P --gematria_output_file=$T/many.tfrecord --gematria_output_csv=$T/many.csv \
    2>$T/many.err || fail "$label: -np $np: $(tail -3 $T/many.err)"
  cmp -s $T/one.tfrecord $T/many.tfrecord || fail "$label: -np $np wrote a different .tfrecord"
  cmp -s $T/one.csv $T/many.csv || fail "$label: -np $np wrote a different CSV"
  [ "$(wc -l <$T/many.csv)" -eq 2157 ] || fail "$label: $(wc -l <$T/many.csv) CSV lines, not 2157"
  [ "$(grep -c '^predicted 2157 of 2157 blocks' $T/many.err)" -eq 1 ] ||
    fail "$label: -np $np summary: $(cat $T/many.err)"
}
same_predictions "seq2num, batches of 100" $T/ck/model.ckpt-3 3 --gematria_max_blocks_in_batch=100
same_predictions seq2seq $T/ck2s/model.ckpt-3 2 --gematria_max_blocks_in_batch=300

# eval: the same table and JSON
E="eval --gematria_checkpoint_file=$T/ck/model.ckpt-3 --gematria_input_file=$DATA --gematria_num_threads=1"
for json in "" --json; do
  "$G" $E $json >$T/e1.out 2>$T/e1.err || fail "eval $json: $(tail -1 $T/e1.err)"
  mpirun_within 120 -np 2 "$G" $E $json >$T/e2.out 2>$T/e2.err || fail "eval $json -np 2: $(tail -2 $T/e2.err)"
  [ -s $T/e1.out ] && cmp -s $T/e1.out $T/e2.out || fail "eval $json: -np 2 printed a different report"
done

# the checkpoint exists on rank 0's machine only: each rank runs in its own
# directory, as on its own machine, with the same relative paths
mkdir -p $T/m0 $T/m1
cp $T/ck/model.ckpt-3 $T/m0/model.ckpt
cp $DATA $T/m0/in.tfrecord
cp $DATA $T/m1/in.tfrecord
mpirun_within 60 -np 2 sh -c "cd $T/m\$OMPI_COMM_WORLD_RANK && exec '$G' predict --gematria_checkpoint_file=model.ckpt \
  --gematria_input_file=in.tfrecord --gematria_output_file=out.tfrecord" >$T/bad.out 2>&1
rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $rc -ne 137 ] || fail "missing checkpoint on rank 1: status $rc"
[ "$(grep -c '^granite: .*error' $T/bad.out)" -eq 1 ] || fail "not one error line: $(cat $T/bad.out)"
grep -q '^granite: rank 1 of 2: error: model.ckpt' $T/bad.out || fail "the error does not name rank 1 and the file: $(cat $T/bad.out)"
ls $T/m0 | grep -q out && fail "an output was written: $(ls $T/m0)"
finish

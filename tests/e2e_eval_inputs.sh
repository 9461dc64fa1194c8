#!/bin/sh
# eval and predict on several input files (--gematria_input_file=a,b): every
# block of every file is used, eval names per task which source of which file
# gave the labels, and `granite eval|predict --help` list the flags that
# apply to them. $1 = the granite binary.
set -u
G=${1:?usage: e2e_eval_inputs.sh path/to/granite}
case "$G" in /*) ;; *) G="$(pwd)/$G" ;; esac
DATA=data/sample/sample.tfrecord
FX=../shared/data/gematria-fixtures/basic_blocks_with_throughput.tfrecord
T=$(mktemp -d /tmp/granite_e2e_eval_XXXXXX)
trap 'rm -rf "$T"' EXIT
export OMP_WAIT_POLICY=passive
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
[ -f $FX ] || { echo "e2e_eval_inputs: $FX missing; skipped" >&2; exit 77; }

"$G" train --gematria_checkpoint_dir=$T/ck --gematria_tokens_file=data/sample/vocab.txt --gematria_input_file=$DATA \
  --gematria_max_blocks_in_batch=20 --gematria_training_num_epochs=2 --gematria_node_embedding_size=16 \
  --gematria_edge_embedding_size=16 --gematria_global_embedding_size=16 --gematria_node_update_layers=16 \
  --gematria_edge_update_layers=16 --gematria_global_update_layers=16 --gematria_task_readout_layers=16 \
  --gematria_num_message_passing_iterations=2 2>$T/train.err || fail "train: $(tail -1 $T/train.err)"
CK=$T/ck/model.ckpt-2

# eval on the sample (2157 blocks, "bhive: haswell") and the Gematria fixture
# (35 blocks, first source "llvm_sim: ...") with the default filter ".*"
"$G" eval --gematria_checkpoint_file=$CK --gematria_input_file=$DATA,$FX >$T/eval.out 2>$T/eval.err ||
  fail "eval on two files: $(tail -1 $T/eval.err)"
grep -q '^default  *2192 ' $T/eval.out || fail "eval did not use 2157 + 35 blocks: $(cat $T/eval.out)"
grep -q '"bhive: haswell" in sample.tfrecord (2157 records)' $T/eval.out || fail "sample's source: $(tail -1 $T/eval.out)"
grep -q '"llvm_sim: triple=x86_64-linux-gnu, cpu=haswell, cpu_features=" in basic_blocks_with_throughput.tfrecord (35 records)' \
  $T/eval.out || fail "fixture's source: $(tail -1 $T/eval.out)"
# a filter that only the fixture matches: only its 35 blocks, and the sources say so
"$G" eval --gematria_checkpoint_file=$CK --gematria_input_file=$DATA,$FX --gematria_throughput_source_filter=test \
  --json >$T/eval.json 2>$T/evalj.err || fail "eval with filter 'test': $(tail -1 $T/evalj.err)"
# ('test' matches both of the fixture's test sources: 10 records labelled by
# the first, 2 by "test: predicted value for tests", the first match there)
grep -q '"count": 12,' $T/eval.json || fail "filter 'test': want 12 labels: $(head -c 200 $T/eval.json)"
grep -q "filter 'test'): \"test: made up values\" in basic_blocks_with_throughput.tfrecord (10 records); \"test: predicted value for tests\" in basic_blocks_with_throughput.tfrecord (2 records)$" \
  $T/evalj.err || fail "filter 'test' sources: $(grep labels $T/evalj.err)"
head -c 1 $T/eval.json | grep -q '{' || fail "--json output does not start with the JSON object"

# predict on two files: every record of both, in order
"$G" predict --gematria_checkpoint_file=$CK --gematria_input_file=$DATA,$FX --gematria_output_file=$T/out.tfrecord \
  --gematria_output_csv=$T/out.csv 2>$T/pred.err || fail "predict on two files: $(tail -1 $T/pred.err)"
"$G" stats $T/out.tfrecord >$T/out.stats
grep -q '^records: 2192' $T/out.stats || fail "predict output: $(head -1 $T/out.stats)"
grep -q '"granite: model.ckpt-2, task=default": 2192 records' $T/out.stats || fail "not every record got a prediction"
grep -q 'predicted 2192 of 2192 blocks' $T/pred.err || fail "predict: $(head -1 $T/pred.err)"

# --help of eval and predict list the flags that apply to them
"$G" eval --help >$T/eval.help 2>&1 || fail "eval --help"
for flag in gematria_checkpoint_file gematria_input_file gematria_throughput_source_filter gematria_task_names \
  gematria_input_file_scaling gematria_training_throughput_selection gematria_max_blocks_in_batch \
  gematria_max_instructions_in_batch gematria_collected_percentile_ranks gematria_tokens_file \
  gematria_out_of_vocabulary_replacement_token gematria_drop_invalid_blocks gematria_num_threads json; do
  grep -q -- "--$flag " $T/eval.help || fail "eval --help does not list --$flag"
done
"$G" predict --help >$T/predict.help 2>&1 || fail "predict --help"
for flag in gematria_checkpoint_file gematria_input_file gematria_output_file gematria_output_csv gematria_model_name \
  gematria_max_blocks_in_batch gematria_max_instructions_in_batch gematria_tokens_file gematria_task_names \
  gematria_throughput_source_filter gematria_out_of_vocabulary_replacement_token gematria_num_threads; do
  grep -q -- "--$flag " $T/predict.help || fail "predict --help does not list --$flag"
done

if [ $FAILS -ne 0 ]; then
  echo "e2e_eval_inputs: $FAILS failure(s)" >&2
  exit 1
fi
echo "e2e_eval_inputs: eval and predict on two files, label sources named, help lists their flags"

#!/bin/sh
# granite's model options end to end: the recipe's flag file trains on the
# bundled sample (its step count and data overridden), the checkpoint keeps
# the options and the output scale, predict/eval/the C API's shape checks use
# them, a contradicting resume is refused, and the automatic output scale is
# the median training label. $1 = the granite binary.
set -u
G=${1:?usage: e2e_model_options.sh path/to/granite}
DATA=data/sample/sample.tfrecord
T=$(mktemp -d /tmp/granite_e2e_options_XXXXXX)
trap 'rm -rf "$T"' EXIT
export OMP_WAIT_POLICY=passive
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
SMALL="--gematria_node_embedding_size=16 --gematria_edge_embedding_size=16 --gematria_global_embedding_size=16
  --gematria_num_message_passing_iterations=2 --gematria_num_threads=1"

# A model option's 4-step checkpoint $T/$1/model.ckpt-4 ($2 names it in
# failures): eval and predict use it; eval with the contradicting flag $3 is
# refused with an error naming $4.
used_and_kept() {
  "$G" eval --gematria_checkpoint_file=$T/$1/model.ckpt-4 --gematria_input_file=$DATA --noerror_analysis \
    >$T/$1.eval 2>&1 || fail "$2 eval: $(tail -1 $T/$1.eval)"
  "$G" predict --gematria_checkpoint_file=$T/$1/model.ckpt-4 --gematria_input_file=$DATA \
    --gematria_output_file=$T/$1.tfrecord 2>$T/$1.pred || fail "$2 predict: $(tail -1 $T/$1.pred)"
  "$G" eval --gematria_checkpoint_file=$T/$1/model.ckpt-4 --gematria_input_file=$DATA "$3" \
    >/dev/null 2>$T/$1.contra && fail "eval accepted $3 against the $2 checkpoint"
  grep -q "$4" $T/$1.contra || fail "contradiction error does not name the flag: $(cat $T/$1.contra)"
}

# 1. The recipe, with the sample's data and 40 steps.
"$G" --flagfile=recipes/bhive-mca.flags --gematria_input_file=$DATA --gematria_tokens_file=data/sample/vocab.txt \
  --gematria_checkpoint_dir=$T/ck --gematria_training_num_epochs=40 --gematria_decay_steps=40 \
  --gematria_save_checkpoint_epochs=20 --gematria_validation_epochs=20 $SMALL 2>$T/train.err ||
  fail "recipe training: $(tail -1 $T/train.err)"
CK=$T/ck/model.ckpt-40
[ -f $CK ] || fail "no checkpoint $CK"
grep -a -q '^config.loop_carried_edges=true$' $CK || fail "checkpoint lacks loop_carried_edges=true"
grep -a -q '^config.register_aliasing=true$' $CK || fail "checkpoint lacks register_aliasing=true"
grep -a -q '^config.critical_path=true$' $CK || fail "checkpoint lacks critical_path=true (the recipe's read-out)"
SCALE=$(grep -a '^config.output_scale=' $CK | sed 's/.*=//')
LOGGED=$(grep -o 'output scale [0-9.e+]*' $T/train.err | sed 's/output scale //')
[ -n "$SCALE" ] && [ "$SCALE" = "$LOGGED" ] || fail "checkpoint output scale '$SCALE' != the logged '$LOGGED'"
# One model for the five CPUs: a task per label set, named, haswell first.
TASKS=$(grep -a '^task=' $CK | sed 's/^task=//' | tr '\n' ' ')
[ "$TASKS" = "haswell skylake ivybridge znver1 znver4 " ] || fail "recipe checkpoint tasks '$TASKS'"

# 2. auto = the median label of the training blocks over the five tasks; the
#    haswell CSV's median is within 10% of it (163 against 158 on the sample).
MEDIAN=$(cut -d, -f2 data/sample/haswell.csv | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
awk -v s="$SCALE" -v m="$MEDIAN" 'BEGIN { exit !(s > 0.9 * m && s < 1.1 * m) }' ||
  fail "output scale $SCALE is not near the median label $MEDIAN"

# 3. The trained model predicts in the labels' unit: eval's MAPE is far below
#    the ~100% of a model that predicts numbers near 1.
MAPE=$("$G" eval --gematria_checkpoint_file=$CK --gematria_input_file=$DATA --json 2>/dev/null |
  tr ',{' '\n\n' | grep '"mape"' | head -1 | sed 's/.*: *//')
awk -v m="$MAPE" 'BEGIN { exit !(m != "" && m < 60) }' || fail "eval MAPE '$MAPE' after 40 steps"
"$G" predict --gematria_checkpoint_file=$CK --gematria_input_file=$DATA --gematria_output_file=$T/out.tfrecord \
  2>$T/predict.err || fail "predict: $(tail -1 $T/predict.err)"

# 4. A flag that contradicts the checkpoint is refused, naming the flag.
"$G" eval --gematria_checkpoint_file=$CK --gematria_input_file=$DATA --nogranite_loop_carried_edges \
  >/dev/null 2>$T/contra.err && fail "eval accepted --nogranite_loop_carried_edges against the checkpoint"
grep -q 'granite_loop_carried_edges' $T/contra.err || fail "contradiction error does not name the flag: $(cat $T/contra.err)"
"$G" --flagfile=recipes/bhive-mca.flags --gematria_input_file=$DATA --gematria_tokens_file=data/sample/vocab.txt \
  --gematria_checkpoint_dir=$T/ck --gematria_training_num_epochs=60 --gematria_decay_steps=60 $SMALL \
  --granite_output_scale=2 >/dev/null 2>$T/resume.err && fail "resume with another --granite_output_scale accepted"
grep -q 'granite_output_scale' $T/resume.err || fail "resume error does not name the flag: $(tail -1 $T/resume.err)"

# 5. A bad scale is one error line and exit 2.
for bad in 0 -1 nan inf x; do
  "$G" train --gematria_checkpoint_dir=$T/bad --gematria_tokens_file=data/sample/vocab.txt --gematria_input_file=$DATA \
    --granite_output_scale=$bad >/dev/null 2>$T/bad.err
  rc=$?
  [ $rc -eq 2 ] && grep -q "granite_output_scale='$bad'" $T/bad.err || fail "--granite_output_scale=$bad: exit $rc, $(cat $T/bad.err)"
done
[ -e $T/bad ] && fail "a refused flag still created the checkpoint directory"

# 6. The same run without the options has Gematria's header (no loop edges, scale 1).
"$G" train --gematria_checkpoint_dir=$T/plain --gematria_tokens_file=data/sample/vocab.txt --gematria_input_file=$DATA \
  --gematria_training_num_epochs=2 $SMALL 2>$T/plain.err || fail "plain training: $(tail -1 $T/plain.err)"
grep -a -q '^config.loop_carried_edges=false$' $T/plain/model.ckpt-2 || fail "default model has loop-carried edges"
grep -a -q '^config.output_scale=1$' $T/plain/model.ckpt-2 || fail "default model's output scale is not 1"

# 7. --granite_critical_path: stored in the checkpoint, used by eval and
#    predict, a contradicting flag refused; the default model has it off.
"$G" train --gematria_checkpoint_dir=$T/cp --gematria_tokens_file=data/sample/vocab.txt --gematria_input_file=$DATA \
  --gematria_training_num_epochs=4 --granite_output_scale=auto --granite_critical_path $SMALL 2>$T/cp.err ||
  fail "critical-path training: $(tail -1 $T/cp.err)"
grep -a -q '^config.critical_path=true$' $T/cp/model.ckpt-4 || fail "checkpoint lacks critical_path=true"
grep -a -q '^tensor=critical_path/task_0/w 16 1$' $T/cp/model.ckpt-4 || fail "checkpoint lacks the latency head"
grep -a -q '^config.critical_path=false$' $T/plain/model.ckpt-2 || fail "default model has the critical path"
used_and_kept cp critical-path --nogranite_critical_path granite_critical_path

# 8. --granite_resource_bound=K with the critical path: stored in the checkpoint
#    with its usage heads, used by eval and predict, a contradicting flag
#    refused; seq2seq refused with one error line.
"$G" train --gematria_checkpoint_dir=$T/rb --gematria_tokens_file=data/sample/vocab.txt --gematria_input_file=$DATA \
  --gematria_training_num_epochs=4 --granite_output_scale=auto --granite_critical_path --granite_resource_bound=3 \
  $SMALL 2>$T/rb.err || fail "resource-bound training: $(tail -1 $T/rb.err)"
grep -a -q '^config.resource_bound=3$' $T/rb/model.ckpt-4 || fail "checkpoint lacks resource_bound=3"
grep -a -q '^tensor=resource_bound/task_0/w 16 3$' $T/rb/model.ckpt-4 || fail "checkpoint lacks the usage head"
grep -a -q '^config.resource_bound=0$' $T/plain/model.ckpt-2 || fail "default model has the resource bound"
used_and_kept rb resource-bound --granite_resource_bound=4 granite_resource_bound
"$G" train --gematria_checkpoint_dir=$T/rbs --gematria_tokens_file=data/sample/vocab.txt --gematria_input_file=$DATA \
  --gematria_training_num_epochs=1 --gematria_seq2seq --granite_resource_bound=2 $SMALL >/dev/null 2>$T/rbs.err &&
  fail "seq2seq training accepted the resource bound"
[ "$(wc -l <$T/rbs.err)" -eq 1 ] && grep -q 'resource-bound.*seq2seq' $T/rbs.err ||
  fail "seq2seq refusal is not one clear line: $(cat $T/rbs.err)"

# 9. --granite_critical_path_latency=exp: stored in the checkpoint, used by
#    eval and predict, a contradicting flag refused; the default model has
#    softplus latencies; without the critical path refused with one line.
"$G" train --gematria_checkpoint_dir=$T/cpx --gematria_tokens_file=data/sample/vocab.txt --gematria_input_file=$DATA \
  --gematria_training_num_epochs=4 --granite_output_scale=auto --granite_critical_path \
  --granite_critical_path_latency=exp $SMALL 2>$T/cpx.err || fail "exp-latency training: $(tail -1 $T/cpx.err)"
grep -a -q '^config.critical_path_latency=exp$' $T/cpx/model.ckpt-4 || fail "checkpoint lacks critical_path_latency=exp"
grep -a -q '^config.critical_path_latency=softplus$' $T/plain/model.ckpt-2 || fail "default model's latencies are not softplus"
used_and_kept cpx exp-latency --granite_critical_path_latency=softplus granite_critical_path_latency
"$G" train --gematria_checkpoint_dir=$T/cpxs --gematria_tokens_file=data/sample/vocab.txt --gematria_input_file=$DATA \
  --gematria_training_num_epochs=1 --granite_critical_path_latency=exp $SMALL >/dev/null 2>$T/cpxs.err &&
  fail "training accepted exp latencies without the critical path"
[ "$(wc -l <$T/cpxs.err)" -eq 1 ] && grep -q 'granite_critical_path_latency=exp needs --granite_critical_path' $T/cpxs.err ||
  fail "exp latencies without the critical path: not one clear line: $(cat $T/cpxs.err)"

# 10. --granite_critical_path_token_bias: stored in the checkpoint with its
#     tensor, used by eval and predict, a contradicting flag refused; off in
#     the default model; without the critical path refused with one line.
"$G" train --gematria_checkpoint_dir=$T/cpt --gematria_tokens_file=data/sample/vocab.txt --gematria_input_file=$DATA \
  --gematria_training_num_epochs=4 --granite_output_scale=auto --granite_critical_path \
  --granite_critical_path_latency=exp --granite_critical_path_token_bias $SMALL 2>$T/cpt.err ||
  fail "token-offset training: $(tail -1 $T/cpt.err)"
grep -a -q '^config.critical_path_token_bias=true$' $T/cpt/model.ckpt-4 || fail "checkpoint lacks critical_path_token_bias"
V=$(grep -a "^config.vocab_size=" $T/cpt/model.ckpt-4 | sed "s/.*=//")
grep -a -q "^tensor=critical_path/token_bias $V 1\$" $T/cpt/model.ckpt-4 ||
  fail "checkpoint lacks the token_bias tensor of $V tokens x 1 task: $(grep -a 'token_bias' $T/cpt/model.ckpt-4)"
grep -a -q '^config.critical_path_token_bias=false$' $T/plain/model.ckpt-2 || fail "default model has token offsets"
used_and_kept cpt token-offset --nogranite_critical_path_token_bias granite_critical_path_token_bias
"$G" train --gematria_checkpoint_dir=$T/cpts --gematria_tokens_file=data/sample/vocab.txt --gematria_input_file=$DATA \
  --gematria_training_num_epochs=1 --granite_critical_path_token_bias $SMALL >/dev/null 2>$T/cpts.err &&
  fail "training accepted token offsets without the critical path"
[ "$(wc -l <$T/cpts.err)" -eq 1 ] && grep -q 'granite_critical_path_token_bias needs --granite_critical_path' $T/cpts.err ||
  fail "token offsets without the critical path: not one clear line: $(cat $T/cpts.err)"

[ $FAILS -eq 0 ] && echo "e2e_model_options: ok (output scale $SCALE, median label $MEDIAN, eval MAPE $MAPE% after 40 steps)"
[ $FAILS -eq 0 ]

#!/bin/sh
# The trainer's options end to end, each checked by what it must do (issue 11,
# item 4): the learning rate applied at every step against the schedule, also
# across a resume; SGD and RMSProp train and resume bit-identically;
# --gematria_grad_clip_norm bounds the update; --gematria_validation_file is
# what validation measures; N threads give 1 thread's model up to rounding,
# reproducibly, and resume identically; two tasks end to end (task names kept
# in the checkpoint, refused on a mismatching resume, one prediction entry
# and one CSV column per task). $1 = the granite binary.
set -u -f # (-f: the filters below are regular expressions, not globs)
G=${1:?usage: e2e_trainer.sh path/to/granite}
case "$G" in /*) ;; *) G="$(pwd)/$G" ;; esac
command -v python3 >/dev/null || { echo "e2e_trainer: python3 is needed to read the JSON; skipped" >&2; exit 77; }
DATA=data/sample/sample.tfrecord
VOCAB=data/sample/vocab.txt
T=$(mktemp -d /tmp/granite_e2e_trainer_XXXXXX)
trap 'rm -rf "$T"' EXIT
export OMP_WAIT_POLICY=passive
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
SMALL="--gematria_tokens_file=$VOCAB --gematria_input_file=$DATA --gematria_max_blocks_in_batch=16
  --gematria_node_embedding_size=8 --gematria_edge_embedding_size=8 --gematria_global_embedding_size=8
  --gematria_node_update_layers=8 --gematria_edge_update_layers=8 --gematria_global_update_layers=8
  --gematria_task_readout_layers=8 --gematria_num_message_passing_iterations=2 --gematria_log_interval_secs=0"
FILTER=--gematria_throughput_source_filter=.*haswell # the task(s) of train()
train() { # DIR STEPS [flags...]: trains into $T/DIR
  d=$1 n=$2
  shift 2
  "$G" train --gematria_checkpoint_dir=$T/$d --gematria_training_num_epochs=$n $SMALL $FILTER "$@" 2>$T/$d.err ||
    fail "train $d to step $n $*: $(tail -1 $T/$d.err)"
}
predict() { # DIR STEP: the predictions of $T/DIR/model.ckpt-STEP on the sample, as CSV
  "$G" predict --gematria_checkpoint_file=$T/$1/model.ckpt-$2 --gematria_input_file=$DATA \
    --gematria_output_file=$T/$1-$2.tfrecord --gematria_output_csv=$T/$1-$2.csv 2>$T/$1-$2.perr ||
    fail "predict $1 step $2: $(tail -1 $T/$1-$2.perr)"
}
same() { cmp -s $T/$1.csv $T/$2.csv || fail "$3: predictions of $1 and $2 differ"; }
# largest difference of two prediction CSVs, relative to the largest prediction
# (a per-value relative difference would measure the CSV's rounding of small values)
reldiff() {
  python3 -c '
import sys
a = [float(l.split(",")[1]) for l in open(sys.argv[1])]
b = [float(l.split(",")[1]) for l in open(sys.argv[2])]
assert len(a) == len(b) == 2157
print(max(abs(x - y) for x, y in zip(a, b)) / max(abs(y) for y in b))' $T/$1.csv $T/$2.csv
}

# ---- the learning rate the trainer applies, against the schedule, across a resume ----
LR="--gematria_learning_rate=0.01 --gematria_learning_rate_schedule=exponential --gematria_decay_steps=3
  --gematria_decay_rate=0.5"
train lr 4 $LR
train lr 9 $LR
grep -q 'resuming from .*model.ckpt-4' $T/lr.err || fail "lr: did not resume from step 4"
python3 - $T/lr/metrics.jsonl <<'PY' || fail "learning rates in metrics.jsonl do not follow the schedule"
import json, sys
seen = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "lr" not in r: continue
    # the record of step s follows update s-1, which uses the rate of global step s-1 (spec 5.4)
    want = 0.01 * 0.5 ** ((r["step"] - 1) / 3)
    assert abs(r["lr"] - want) <= 1e-6 * want, (r["step"], r["lr"], want)
    seen.append(r["step"])
assert seen == list(range(1, 10)), seen
PY

# ---- SGD and RMSProp: they train, differ from each other, and resume bit-identically ----
for opt in SGD RMSPROP; do
  train $opt 4 --gematria_optimizer_type=$opt
  train $opt-resumed 2 --gematria_optimizer_type=$opt
  train $opt-resumed 4 --gematria_optimizer_type=$opt
  predict $opt 4
  predict $opt-resumed 4
  same $opt-4 $opt-resumed-4 "$opt resume"
done
cmp -s $T/SGD-4.csv $T/RMSPROP-4.csv && fail "SGD and RMSProp gave the same model"
# the optimizer is kept: resuming with another one is refused
"$G" train --gematria_checkpoint_dir=$T/SGD --gematria_training_num_epochs=6 $SMALL $FILTER \
  --gematria_optimizer_type=RMSPROP >/dev/null 2>$T/opt.err && fail "resume SGD as RMSPROP accepted"

# ---- --gematria_grad_clip_norm: every tensor's step is at most lr * clip ----
# SGD: unclipped, 2 steps change the predictions; clipped to 1e-7 per tensor
# they stay where a run with learning rate 0 leaves them.
CLIP="--gematria_optimizer_type=SGD --gematria_learning_rate=0.01 --gematria_loss_type=mean_absolute_error"
train noclip 2 $CLIP
train clip 2 $CLIP --gematria_grad_clip_norm=1e-7
train zero 2 --gematria_optimizer_type=SGD --gematria_learning_rate=0 --gematria_loss_type=mean_absolute_error \
  --allow_zero_learning_rate
for d in noclip clip zero; do predict $d 2; done
d_clip=$(reldiff clip-2 zero-2)
d_noclip=$(reldiff noclip-2 zero-2)
echo "grad clip: predictions moved by $d_clip clipped, $d_noclip unclipped (relative to the largest)"
python3 -c "import sys; sys.exit(not ($d_clip < 1e-5 and $d_noclip > 1e-3))" ||
  fail "grad clip: clipped run moved predictions by $d_clip (want < 1e-5), unclipped by $d_noclip (want > 1e-3)"

# ---- --gematria_validation_file: validation is eval of that file ----
# the validation file: the sample's first 100 records (not the training file)
python3 - $DATA $T/val.tfrecord <<'PY'
import struct, sys
data, out, i = open(sys.argv[1], "rb").read(), open(sys.argv[2], "wb"), 0
for _ in range(100):
    (n,) = struct.unpack("<Q", data[i:i + 8]); out.write(data[i:i + 16 + n]); i += 16 + n
PY
VAL=$T/val.tfrecord
train val 4 --gematria_validation_file=$VAL --gematria_validation_epochs=2 --gematria_save_checkpoint_epochs=2
grep -q 'validation at step 4: MAPE default .* over 100 blocks' $T/val.err ||
  fail "validation: $(grep validation $T/val.err | tail -1)"
"$G" eval --gematria_checkpoint_file=$T/val/model.ckpt-4 --gematria_input_file=$VAL \
  --gematria_throughput_source_filter=.*haswell --json >$T/val-eval.json 2>$T/val-eval.err ||
  fail "eval of the validation file: $(tail -1 $T/val-eval.err)"
python3 - $T/val/metrics.jsonl $T/val-eval.json <<'PY' || fail "validation at step 4 is not eval of the validation file"
import json, sys
v = [json.loads(l) for l in open(sys.argv[1])]
v = [r for r in v if "validation" in r and r["step"] == 4]
e = json.load(open(sys.argv[2]))
assert len(v) == 1, v
want = e["tasks"][0]["relative_mae"]
got = v[0]["validation"]["relative_mae"][0]
assert abs(got - want) <= 1e-6 * abs(want), (got, want)
PY

# ---- threads: 2 threads = 1 thread up to rounding, reproducible, resumes identically ----
# 1 against 2 threads with SGD, which carries a rounding difference of the
# gradient sums through as it is; Adam's m/sqrt(v) turns the sign noise of a
# gradient near 0 into a whole step, so there the runs are compared with the
# same thread count
SGD="--gematria_optimizer_type=SGD --gematria_learning_rate=0.01 --gematria_loss_type=mean_absolute_error"
train t1 4 --gematria_num_threads=1 $SGD
train t2 4 --gematria_num_threads=2 $SGD
train t2adam 4 --gematria_num_threads=2
train t2again 4 --gematria_num_threads=2
train t2resumed 2 --gematria_num_threads=2
train t2resumed 4 --gematria_num_threads=2
for d in t1 t2 t2adam t2again t2resumed; do predict $d 4; done
same t2adam-4 t2again-4 "2 threads twice"
same t2adam-4 t2resumed-4 "2 threads, resumed"
d_threads=$(reldiff t2-4 t1-4)
echo "threads: 2 threads differ from 1 by $d_threads (relative to the largest prediction)"
python3 -c "import sys; sys.exit(not $d_threads < 1e-4)" || fail "2 threads differ from 1 thread by $d_threads"

# ---- two tasks ----
TASKS="--gematria_throughput_source_filter=.*haswell --gematria_throughput_source_filter=.*skylake
  --gematria_task_names=hsw --gematria_task_names=skl"
FILTER=$TASKS
train mt 2
predict mt 2
"$G" stats $T/mt-2.tfrecord >$T/mt.stats
grep -q '"granite: model.ckpt-2, task=hsw": 2157 records' $T/mt.stats || fail "no hsw prediction entries"
grep -q '"granite: model.ckpt-2, task=skl": 2157 records' $T/mt.stats || fail "no skl prediction entries"
awk -F, 'NF != 3 { bad++ } END { exit bad > 0 }' $T/mt-2.csv || fail "two-task CSV lines are not hex,hsw,skl"
grep -q 'task hsw: MAPE' $T/mt-2.perr && grep -q 'task skl: MAPE' $T/mt-2.perr || fail "predict MAPE per task"
# the task names are in the checkpoint: a resume with other names or another count is refused
"$G" train --gematria_checkpoint_dir=$T/mt --gematria_training_num_epochs=4 $SMALL \
  --gematria_throughput_source_filter=.*skylake --gematria_throughput_source_filter=.*haswell \
  --gematria_task_names=skl --gematria_task_names=hsw 2>$T/mt-swap.err && fail "resume with swapped tasks accepted"
grep -q 'task' $T/mt-swap.err || fail "swapped tasks: $(tail -1 $T/mt-swap.err)"
"$G" train --gematria_checkpoint_dir=$T/mt --gematria_training_num_epochs=4 $SMALL \
  --gematria_throughput_source_filter=.*haswell 2>$T/mt-one.err &&
  fail "resume of a two-task model with one task accepted"

[ $FAILS = 0 ] && echo "e2e_trainer: all passed"
exit $FAILS

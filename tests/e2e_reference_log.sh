#!/bin/sh
# Every command of shared/seed/training-log.md, run with `granite` in place of
# `bazel run //gematria/granite/python:run_granite_model --`, on the bundled
# sample, with few steps; plus resume, SIGTERM, config mismatch, corrupt
# checkpoint, token list mismatch, unknown flag. $1 = the granite binary.
set -u
G=${1:?usage: e2e_reference_log.sh path/to/granite}
case "$G" in /*) ;; *) G="$(pwd)/$G" ;; esac
DATA=data/sample/sample.tfrecord
VOCAB=data/sample/vocab.txt
T=$(mktemp -d /tmp/granite_e2e_log_XXXXXX)
trap 'rm -rf "$T"' EXIT
# libgomp spins idle threads; on a loaded 2-core machine that costs 5x.
export OMP_WAIT_POLICY=passive
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
expect_file() { [ -f "$1" ] || fail "missing $1"; }
expect_grep() { grep -q -- "$1" "$2" || { fail "'$1' not in $2:"; sed 's/^/    /' "$2" | tail -5 >&2; }; }
# Source entries and their counts, from `granite stats`.
count_source() { "$G" stats "$1" | grep -c "^  \""; }

# Steps: the log's models here train 20 steps (model 5: 5), resumed to 30.
# Under the sanitizers (GRANITE_SANITIZERS, set by CMake in that build) the
# same commands and checks run with 4 (2) steps, resumed to 6: there they
# check memory, and ASan made the 20-step runs the slowest test of the suite.
# Model 8 (256 wide) is stopped after step K=2 and model 9 trains K more;
# K=1 there.
if [ -n "${GRANITE_SANITIZERS:-}" ]; then N=4 N5=2 K=1; else N=20 N5=5 K=2; fi
N6=$((N + N / 2))

# ---- Model 4: cosine, training_num_epochs=0 in the log (here $N steps) ----
"$G" --gematria_action=train --gematria_checkpoint_dir=$T/bbs_20u7_model4/ --gematria_learning_rate=0.001 \
  --gematria_loss_type=mean_absolute_error --gematria_training_num_epochs=$N --gematria_tokens_file=$VOCAB \
  --gematria_input_file=$DATA --gematria_max_blocks_in_batch=100 --gematria_learning_rate_schedule=cosine \
  --gematria_decay_steps=10000 --gematria_save_checkpoint_epochs=$((N / 2)) 2>$T/m4.err || fail "model 4 train"
expect_file $T/bbs_20u7_model4/model.ckpt-$((N / 2))
expect_file $T/bbs_20u7_model4/model.ckpt-$N
expect_file $T/bbs_20u7_model4/metrics.jsonl
expect_grep "model_checkpoint_path: \"model.ckpt-$N\"" $T/bbs_20u7_model4/checkpoint

# Model 4's evaluation invocation (predict)
"$G" --gematria_action=predict --gematria_checkpoint_file=$T/bbs_20u7_model4/model.ckpt-$N \
  --gematria_max_blocks_in_batch=1000 --gematria_input_file=$DATA --gematria_output_file=$T/test.tfrecord \
  --gematria_tokens_file=$VOCAB 2>$T/p4.err || fail "model 4 predict"
expect_grep "MAPE" $T/p4.err
in_sources=$(count_source $DATA)
out_sources=$(count_source $T/test.tfrecord)
[ "$out_sources" -eq $((in_sources + 1)) ] || fail "predict: $in_sources sources in, $out_sources out"
"$G" stats $T/test.tfrecord >$T/p4.stats
expect_grep "\"granite: model.ckpt-$N, task=default\": 2157 records, 2157 labels" $T/p4.stats
expect_grep '^records: 2157' $T/p4.stats

# ---- Model 5: exponential with the default decay rate 0: refused ----
M5="--gematria_action=train --gematria_checkpoint_dir=$T/bbs_20u7_model5/ --gematria_learning_rate=0.001
  --gematria_loss_type=mean_absolute_error --gematria_training_num_epochs=$N5 --gematria_tokens_file=$VOCAB
  --gematria_input_file=$DATA --gematria_max_blocks_in_batch=100 --gematria_learning_rate_schedule=exponential
  --gematria_decay_steps=10000"
if "$G" $M5 2>$T/m5.err; then fail "model 5 (exponential, decay rate 0) was not refused"; fi
expect_grep "decay_rate=0" $T/m5.err
[ -e $T/bbs_20u7_model5/model.ckpt-$N5 ] && fail "refused run wrote a checkpoint"
"$G" $M5 --allow_zero_learning_rate 2>$T/m5b.err || fail "model 5 with --allow_zero_learning_rate"
expect_grep "warning" $T/m5b.err
expect_file $T/bbs_20u7_model5/model.ckpt-$N5

# ---- Model 6: default settings on "100k" blocks (the sample) ----
M6="--gematria_action=train --gematria_checkpoint_dir=$T/bbs_20u7_model6/ --gematria_learning_rate=0.001
  --gematria_loss_type=mean_absolute_error --gematria_tokens_file=$VOCAB
  --gematria_input_file=$DATA --gematria_max_blocks_in_batch=100"
"$G" $M6 --gematria_training_num_epochs=$N 2>$T/m6.err || fail "model 6 train"
expect_file $T/bbs_20u7_model6/model.ckpt-$N
# resume: the same command with more steps continues from step $N
"$G" $M6 --gematria_training_num_epochs=$N6 2>$T/m6b.err || fail "model 6 resume"
expect_grep "resuming from .*model.ckpt-$N" $T/m6b.err
expect_file $T/bbs_20u7_model6/model.ckpt-$N6
expect_grep "\"step\": $N6" $T/bbs_20u7_model6/metrics.jsonl
# Model 6's evaluation invocation
"$G" --gematria_action=predict --gematria_checkpoint_file=$T/bbs_20u7_model6/model.ckpt-$N6 \
  --gematria_max_blocks_in_batch=10000 --gematria_input_file=$DATA --gematria_output_file=$T/test.tfrecord \
  --gematria_tokens_file=$VOCAB --gematria_output_csv=$T/test.csv 2>$T/p6.err || fail "model 6 predict"
[ "$(count_source $T/test.tfrecord)" -eq $((in_sources + 1)) ] || fail "model 6 predict: no extra source"
[ "$(wc -l <$T/test.csv)" -eq 2157 ] || fail "predict CSV has $(wc -l <$T/test.csv) lines"
grep -q '^[0-9a-f]*,[0-9.]*$' $T/test.csv || fail "predict CSV lines are not hex,prediction"
# every CSV line is its record: the block's machine code and the prediction
# predict wrote into the record (read here with a protobuf decoder of its own)
python3 - $T/test.tfrecord $T/test.csv "granite: model.ckpt-$N6," <<'PY' || fail "predict CSV does not match the predictions in the TFRecord"
import struct, sys
def varint(b, i):
    v = s = 0
    while True:
        c = b[i]; i += 1; v |= (c & 0x7f) << s; s += 7
        if c < 0x80: return v, i
def fields(b):
    i = 0
    while i < len(b):
        key, i = varint(b, i)
        f, w = key >> 3, key & 7
        if w == 0: v, i = varint(b, i)
        elif w == 1: v = b[i:i + 8]; i += 8
        elif w == 5: v = b[i:i + 4]; i += 4
        elif w == 2: n, i = varint(b, i); v = b[i:i + n]; i += n
        else: raise ValueError("wire type %d" % w)
        yield f, w, v
def doubles(w, v):
    return list(struct.unpack("<%dd" % (len(v) // 8), v)) if w == 2 else [struct.unpack("<d", v)[0]]
data = open(sys.argv[1], "rb").read()
rows = [l.rstrip("\n").split(",") for l in open(sys.argv[2])]
i = n = 0
while i < len(data):
    (length,) = struct.unpack("<Q", data[i:i + 8]); rec = data[i + 12:i + 12 + length]; i += 16 + length
    code, pred = b"", None
    for f, w, v in fields(rec):
        if f == 1:
            for g, _, mi in fields(v):
                if g == 1: code += b"".join(c for h, _, c in fields(mi) if h == 3)
        elif f == 2:
            source, values = "", []
            for g, wt, x in fields(v):
                if g == 1: source = x.decode()
                elif g == 2: values += doubles(wt, x)
            if source.startswith(sys.argv[3]): pred = values
    hexcode, value = rows[n]
    assert hexcode == code.hex(), (n, hexcode, code.hex())
    assert pred and len(pred) == 1 and abs(float(value) - pred[0]) <= 5e-7 + 1e-6 * abs(pred[0]), (n, value, pred)
    n += 1
assert n == len(rows) == 2157, (n, len(rows))
PY

# ---- Model 7: as model 4 on "1M" blocks ----
"$G" --gematria_action=train --gematria_checkpoint_dir=$T/bbs_20u7_model7/ --gematria_learning_rate=0.001 \
  --gematria_loss_type=mean_absolute_error --gematria_training_num_epochs=$N --gematria_tokens_file=$VOCAB \
  --gematria_input_file=$DATA --gematria_max_blocks_in_batch=100 --gematria_learning_rate_schedule=cosine \
  --gematria_decay_steps=10000 2>$T/m7.err || fail "model 7 train"
expect_file $T/bbs_20u7_model7/model.ckpt-$N

# ---- Model 8: 256 wide, cosine decay_steps 10000 for 100000 steps: warned;
# stopped by SIGTERM, which must save and exit 0 ----
WIDE="--gematria_node_embedding_size=256 --gematria_node_update_layers=256 --gematria_edge_embedding_size=256
  --gematria_edge_update_layers=256 --gematria_global_embedding_size=256 --gematria_global_update_layers=256
  --gematria_task_readout_layers=256"
"$G" --gematria_action=train --gematria_checkpoint_dir=$T/bbs_20u7_model8/ --gematria_learning_rate=0.001 \
  --gematria_loss_type=mean_absolute_error --gematria_training_num_epochs=100000 --gematria_tokens_file=$VOCAB \
  --gematria_input_file=$DATA --gematria_max_blocks_in_batch=100 --gematria_learning_rate_schedule=cosine \
  --gematria_decay_steps=10000 $WIDE --gematria_log_interval_secs=0 2>$T/m8.err &
PID=$!
# (at most 5 minutes: a sanitized build on a busy machine is slow)
i=0
while [ $i -lt 1500 ] && ! grep -q "^step $K/" $T/m8.err; do sleep 0.2; i=$((i + 1)); done
kill -TERM $PID
wait $PID || fail "model 8: exit status $? after SIGTERM (want 0)"
expect_grep "warning: COSINE" $T/m8.err
expect_grep "stopped by signal" $T/m8.err
STEP8=$(ls $T/bbs_20u7_model8/ | sed -n 's/^model\.ckpt-\([0-9]*\)$/\1/p' | sort -n | tail -1)
[ -n "$STEP8" ] || fail "model 8: no checkpoint after SIGTERM"
STEP8=${STEP8:-0}

# ---- Model 9: same directory as model 8 (as in the log): resumes there ----
"$G" --gematria_action=train --gematria_checkpoint_dir=$T/bbs_20u7_model8/ --gematria_learning_rate=0.001 \
  --gematria_loss_type=mean_absolute_error --gematria_training_num_epochs=$((STEP8 + K)) \
  --gematria_tokens_file=$VOCAB --gematria_input_file=$DATA --gematria_max_blocks_in_batch=100 \
  --gematria_learning_rate_schedule=cosine --gematria_decay_steps=100000 $WIDE 2>$T/m9.err || fail "model 9"
expect_grep "resuming from .*model.ckpt-$STEP8" $T/m9.err
expect_file $T/bbs_20u7_model8/model.ckpt-$((STEP8 + K))
grep -q "warning: COSINE" $T/m9.err && fail "model 9 (decay_steps 100000) should not warn"

# ---- bad paths ----
# a checkpoint directory of another shape
if "$G" $M6 --gematria_training_num_epochs=40 --gematria_node_embedding_size=64 2>$T/mm.err; then
  fail "resume with another model shape was accepted"
fi
expect_grep "gematria_node_embedding_size" $T/mm.err
if "$G" predict --gematria_checkpoint_file=$T/bbs_20u7_model4/model.ckpt-$N --gematria_input_file=$DATA \
  --gematria_output_file=$T/x.tfrecord --gematria_edge_embedding_size=32 2>$T/pm.err; then
  fail "predict with a contradicting shape flag was accepted"
fi
expect_grep "gematria_edge_embedding_size" $T/pm.err
# another token list
sed 1d $VOCAB >$T/vocab_short.txt
if "$G" predict --gematria_checkpoint_file=$T/bbs_20u7_model4/model.ckpt-$N --gematria_input_file=$DATA \
  --gematria_output_file=$T/x.tfrecord --gematria_tokens_file=$T/vocab_short.txt 2>$T/pv.err; then
  fail "predict with another tokens file was accepted"
fi
expect_grep "gematria_tokens_file" $T/pv.err
# a corrupt checkpoint
mkdir -p $T/corrupt
cp $T/bbs_20u7_model4/model.ckpt-$N $T/corrupt/model.ckpt-$N
size=$(wc -c <$T/corrupt/model.ckpt-$N)
printf '\377' | dd of=$T/corrupt/model.ckpt-$N bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
if "$G" predict --gematria_checkpoint_file=$T/corrupt/model.ckpt-$N --gematria_input_file=$DATA \
  --gematria_output_file=$T/x.tfrecord 2>$T/pc.err; then
  fail "a corrupt checkpoint was accepted"
fi
grep -qi "crc\|corrupt" $T/pc.err || fail "corrupt checkpoint message: $(cat $T/pc.err)"
[ -e $T/x.tfrecord ] && fail "a failed predict left an output file"
# unknown flag: exit 2 with a suggestion
"$G" --gematria_action=train --gematria_learning_rat=0.1 2>$T/uf.err
[ $? -eq 2 ] || fail "unknown flag: exit status is not 2"
expect_grep "did you mean --gematria_learning_rate" $T/uf.err
# eval, JSON
"$G" eval --gematria_checkpoint_file=$T/bbs_20u7_model6/model.ckpt-$N6 --gematria_input_file=$DATA --json \
  >$T/eval.json 2>$T/eval.err || fail "eval"
grep -qi '"mape"' $T/eval.json || fail "eval JSON has no mape: $(head -c 300 $T/eval.json)"

if [ $FAILS -ne 0 ]; then
  echo "e2e_reference_log: $FAILS failure(s)" >&2
  exit 1
fi
echo "e2e_reference_log: all reference-log commands and checks passed"

#!/bin/sh
# --granite_precision for train, predict and eval, and bench --precision: BF16
# trains and predicts (predictions within a few percent of FP32's from the
# same checkpoint), FP32 stays the default, a CPU without AVX512_BF16 gets one
# note and FP32, bad values one error line. $1 = the granite binary.
set -u
G=${1:?usage: e2e_precision.sh path/to/granite}
DATA=data/sample/sample.tfrecord
VOCAB=data/sample/vocab.txt
T=$(mktemp -d /tmp/granite_e2e_precision_XXXXXX)
trap 'rm -rf "$T"' EXIT
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
HAVE_BF16=0
grep -q avx512_bf16 /proc/cpuinfo && HAVE_BF16=1

SMALL="--gematria_node_embedding_size=32 --gematria_edge_embedding_size=32 --gematria_global_embedding_size=32
  --gematria_num_message_passing_iterations=3"
"$G" train --gematria_checkpoint_dir=$T/ck --gematria_tokens_file=$VOCAB --gematria_input_file=$DATA \
  --gematria_max_blocks_in_batch=20 --gematria_training_num_epochs=15 --gematria_save_checkpoint_epochs=15 \
  --gematria_log_interval_secs=0 --gematria_num_threads=2 --granite_precision=bf16 $SMALL \
  >$T/train.out 2>$T/train.err || fail "bf16 training failed: $(tail -1 $T/train.err)"
[ -f $T/ck/model.ckpt-15 ] || fail "bf16 training wrote no checkpoint"
NOTES=$(grep -c "lacks AVX512_BF16" $T/train.err)
if [ $HAVE_BF16 = 1 ]; then
  [ "$NOTES" = 0 ] || fail "a note about missing AVX512_BF16 on a CPU that has it"
else
  [ "$NOTES" = 1 ] || fail "expected exactly one fallback note, got $NOTES"
fi
grep -qi "nan" $T/ck/metrics.jsonl && fail "NaN in the bf16 training metrics"

for p in fp32 bf16; do
  "$G" predict --gematria_checkpoint_file=$T/ck/model.ckpt-15 --gematria_input_file=$DATA \
    --gematria_output_file=$T/$p.tfrecord --gematria_output_csv=$T/$p.csv --granite_precision=$p \
    --gematria_num_threads=2 >/dev/null 2>$T/predict-$p.err || fail "predict $p: $(tail -1 $T/predict-$p.err)"
  "$G" eval --gematria_checkpoint_file=$T/ck/model.ckpt-15 --gematria_input_file=$DATA --json \
    --granite_precision=$p >$T/eval-$p.json 2>$T/eval-$p.err || fail "eval $p: $(tail -1 $T/eval-$p.err)"
done
python3 - $T $HAVE_BF16 <<'PY' || fail "bf16 predictions not close to fp32"
import csv, json, sys
t, have = sys.argv[1], sys.argv[2] == "1"
def col(p):
    rows = list(csv.reader(open(f"{t}/{p}.csv")))
    return [float(r[1]) for r in rows if len(r) > 1 and r[1] not in ("", "prediction")]
a, b = col("fp32"), col("bf16")
assert len(a) == len(b) > 2000, (len(a), len(b))
rel = sum(abs(x - y) for x, y in zip(a, b)) / sum(abs(x) for x in a)
print(f"bf16 vs fp32 predictions: mean relative difference {rel:.4f}", file=sys.stderr)
if have:
    assert 0 < rel < 0.03, rel    # different numbers, but close
else:
    assert rel == 0, rel          # the fallback is FP32 itself
json.load(open(f"{t}/eval-fp32.json")); json.load(open(f"{t}/eval-bf16.json"))
PY

# bad values: one error line naming the flag, non-zero exit, nothing written
"$G" predict --gematria_checkpoint_file=$T/ck/model.ckpt-15 --gematria_input_file=$DATA \
  --gematria_output_file=$T/bad.tfrecord --granite_precision=fp16 >/dev/null 2>$T/bad.err && fail "fp16 accepted"
[ "$(grep -c 'granite_precision' $T/bad.err)" = 1 ] || fail "bad precision: not one error line: $(cat $T/bad.err)"
[ -e $T/bad.tfrecord ] && fail "bad precision: an output was written"
"$G" bench --input $DATA --tokens $VOCAB --precision int8 >/dev/null 2>$T/bench.err && fail "bench int8 accepted"
grep -q "precision" $T/bench.err || fail "bench: bad precision not named"

# bench --precision fp32,bf16: both rows (bf16 only where the CPU has it)
"$G" bench --input $DATA --tokens $VOCAB --configs default --threads 1 --seconds 0.05 --steps 2 --warmup 1 \
  --predict-batch 50 --latency-calls 10 --skip-sgemm --precision fp32,bf16 >$T/bench.out 2>&1 ||
  fail "bench fp32,bf16: $(tail -1 $T/bench.out)"
grep -q "^default *1 *fp32 *train" $T/bench.out || fail "bench: no fp32 training row"
if [ $HAVE_BF16 = 1 ]; then
  grep -q "^default *1 *bf16 *predict" $T/bench.out || fail "bench: no bf16 prediction row"
  grep -q "^BF16 peak: .* = [0-9]* GFLOP/s" $T/bench.out || fail "bench: no BF16 peak derivation"
fi

[ $FAILS = 0 ] && echo "e2e_precision: all passed"
exit $FAILS

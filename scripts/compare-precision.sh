#!/bin/sh
# BF16 against FP32 at equal steps: trains the same model twice from the same
# seed (--granite_precision=fp32, then bf16), validates both on the same
# held-out blocks and prints the two validation MAPEs, their difference and
# the training speeds. Run in the repository root.
# Usage: scripts/compare-precision.sh [granite] [steps] [input.tfrecord] [vocab] [batch blocks]
#   SEED=n in the environment sets --gematria_random_seed (both runs use it; the
#   seed-to-seed spread of FP32 itself is the yardstick for the difference)
#   test-sized (default): 1,000 steps of 32 blocks on data/sample, haswell labels
#   full check (docs/bf16.md): scripts/compare-precision.sh build/granite 44000 all.tfrecord vocab.txt 100
set -e
G=${1:-build/granite}
STEPS=${2:-1000}
DATA=${3:-data/sample/sample.tfrecord}
VOCAB=${4:-data/sample/vocab.txt}
BATCH=${5:-32}
SEED=${SEED:-123456789}
OUT=$(mktemp -d /tmp/granite-precision-XXXXXX)
trap 'rm -rf "$OUT"' EXIT
for p in fp32 bf16; do
  "$G" train --gematria_input_file="$DATA" --gematria_tokens_file="$VOCAB" \
    --gematria_throughput_source_filter='bhive: haswell' --gematria_checkpoint_dir="$OUT/$p" \
    --gematria_loss_type=mean_absolute_error --gematria_loss_normalization=percentage_error \
    --gematria_learning_rate=0.001 --gematria_learning_rate_schedule=cosine --gematria_decay_steps="$STEPS" \
    --gematria_max_blocks_in_batch="$BATCH" --gematria_training_num_epochs="$STEPS" \
    --gematria_save_checkpoint_epochs="$STEPS" --gematria_validation_fraction=0.1 \
    --gematria_validation_epochs="$STEPS" --gematria_log_interval_secs=60 --gematria_random_seed="$SEED" --granite_precision=$p \
    2>"$OUT/$p.log" || { tail -3 "$OUT/$p.log" >&2; exit 1; }
done
python3 - "$OUT" "$STEPS" <<'PY'
import json, sys
out, steps = sys.argv[1], sys.argv[2]
res = {}
for p in ("fp32", "bf16"):
    val = speed = None
    for line in open(f"{out}/{p}/metrics.jsonl"):
        r = json.loads(line)
        if "validation" in r:
            val = 100 * r["validation"]["relative_mae"][0]
        if "blocks_per_sec" in r:
            speed = r["blocks_per_sec"]
    res[p] = (val, speed)
    print(f"{p}: validation MAPE {val:.3f}% after {steps} steps; last logged training speed {speed} blocks/s")
d = res["bf16"][0] - res["fp32"][0]
print(f"bf16 - fp32: {d:+.3f} MAPE points ({'within' if abs(d) <= 0.2 else 'outside'} the 0.2-point target)")
PY

#!/bin/sh
# A model trained on scaled labels (--gematria_input_file_scaling=0.01, i.e.
# cycles per iteration from BHive's cycles per 100 iterations) is evaluated,
# and its predictions compared, in its own unit: eval and predict take the
# scaling from the checkpoint unless the flag is given. $1 = the granite binary.
set -u
G=${1:?usage: e2e_label_scaling.sh path/to/granite}
DATA=data/sample/sample.tfrecord
T=$(mktemp -d /tmp/granite_e2e_scaling_XXXXXX)
trap 'rm -rf "$T"' EXIT
export OMP_WAIT_POLICY=passive
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }

"$G" train --gematria_checkpoint_dir=$T/ck --gematria_tokens_file=data/sample/vocab.txt --gematria_input_file=$DATA \
  --gematria_throughput_source_filter='bhive: haswell' --gematria_input_file_scaling=0.01 \
  --gematria_loss_type=mean_absolute_error --gematria_loss_normalization=percentage_error \
  --gematria_max_blocks_in_batch=50 --gematria_training_num_epochs=60 --gematria_node_embedding_size=16 \
  --gematria_edge_embedding_size=16 --gematria_global_embedding_size=16 \
  --gematria_num_message_passing_iterations=2 --gematria_num_threads=1 2>$T/train.err ||
  fail "train: $(tail -1 $T/train.err)"
CK=$T/ck/model.ckpt-60

mape() { "$G" eval --gematria_checkpoint_file=$CK --gematria_input_file=$DATA --json "$@" 2>/dev/null |
  tr ',{' '\n\n' | grep '"mape"' | head -1 | sed 's/.*: *//'; }
STORED=$(mape)
GIVEN=$(mape --gematria_input_file_scaling=0.01)
RAW=$(mape --gematria_input_file_scaling=1)
[ -n "$STORED" ] && [ "$STORED" = "$GIVEN" ] || fail "eval without the flag ($STORED) != with 0.01 ($GIVEN)"
# In the wrong unit every prediction is ~100x too small: MAPE near 100%.
awk -v s="$STORED" -v r="$RAW" 'BEGIN { exit !(s < 80 && r > 95) }' ||
  fail "stored-scaling MAPE $STORED should be far below the raw-unit MAPE $RAW"

"$G" predict --gematria_checkpoint_file=$CK --gematria_input_file=$DATA --gematria_output_file=$T/out.tfrecord \
  2>$T/predict.err || fail "predict: $(tail -1 $T/predict.err)"
P=$(grep -o 'MAPE [0-9.]*%' $T/predict.err | head -1 | tr -d 'MAPE %')
awk -v p="$P" -v s="$STORED" 'BEGIN { d = p - s; exit !(p != "" && d < 0.01 && d > -0.01) }' ||
  fail "predict's MAPE ($P) should equal eval's ($STORED)"

[ $FAILS -eq 0 ] && echo "e2e_label_scaling: ok (MAPE $STORED% in the model's unit, $RAW% if the scaling were ignored)"
exit $FAILS

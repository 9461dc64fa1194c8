#!/bin/sh
# The Python module `granite` (python/granite) with plain python3, over the
# libgranite.so of this build: tests/python_module_check.py compares it with
# the granite CLI. Also: a clear error when the library cannot be found.
# $1 = the granite binary in the build directory.
set -u
G=${1:?usage: e2e_python.sh path/to/build/granite}
case "$G" in /*) ;; *) G="$(pwd)/$G" ;; esac
command -v python3 >/dev/null || { echo "python3 not found: skipped"; exit 77; }
T=$(mktemp -d /tmp/granite_e2e_python_XXXXXX)
trap 'rm -rf "$T"' EXIT
export OMP_WAIT_POLICY=passive OMP_NUM_THREADS=1
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
"$G" train --gematria_tokens_file=data/sample/vocab.txt --gematria_input_file=data/sample/sample.tfrecord \
  --gematria_max_blocks_in_batch=20 --gematria_training_num_epochs=2 --gematria_node_embedding_size=16 \
  --gematria_edge_embedding_size=16 --gematria_global_embedding_size=16 --gematria_node_update_layers=16 \
  --gematria_edge_update_layers=16 --gematria_global_update_layers=16 --gematria_task_readout_layers=16 \
  --gematria_num_message_passing_iterations=2 --gematria_checkpoint_dir=$T/m --gematria_save_summaries_epochs=0 \
  2>$T/train.err || { echo "FAIL: train: $(tail -1 $T/train.err)"; exit 1; }
export PYTHONPATH="$(pwd)/python" GRANITE_LIBRARY="$(dirname "$G")/libgranite.so.0"
python3 -B tests/python_module_check.py "$G" $T/m/model.ckpt-2 $T || fail "python_module_check.py"
# with NumPy (a stand-in module here: NumPy is optional and may be absent), many blocks
# give an array built from the predictions, of shape [n]
mkdir -p $T/fakenumpy
cat >$T/fakenumpy/numpy.py <<'PY'
float32 = "float32"
class ndarray(list):
    pass
def array(values, dtype=None):
    a = ndarray(values)
    a.shape, a.dtype = (len(values),), dtype
    return a
PY
out=$(PYTHONPATH="$T/fakenumpy:$PYTHONPATH" python3 -B -c "
import granite, numpy
a = granite.Model.load('$T/m/model.ckpt-2').predict(['4801d8', '90'])
assert isinstance(a, numpy.ndarray) and a.shape == (2,) and a.dtype == 'float32', (type(a), a)
print('ok')" 2>&1)
[ "$out" = ok ] || fail "NumPy path: $out"
# the library missing: GraniteError saying what to set, not a crash
out=$(GRANITE_LIBRARY=$T/nope.so python3 -B -c "
import granite
try:
    granite.canonicalize('90')
except granite.GraniteError as e:
    print(e)" 2>&1)
case "$out" in *"$T/nope.so"*GRANITE_LIBRARY*) ;; *) fail "missing library: $out" ;; esac
# read_tfrecord needs no library at all
n=$(GRANITE_LIBRARY=$T/nope.so python3 -B -c "
import granite
print(sum(1 for _ in granite.read_tfrecord('data/sample/sample.tfrecord')))") || fail "read_tfrecord without the library"
[ "${n:-0}" -gt 0 ] || fail "read_tfrecord read $n blocks"
[ $FAILS = 0 ] && echo "e2e_python: all passed"
exit $FAILS

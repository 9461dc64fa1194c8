# Sourced by tests/mpi_*.sh: $1 = granite, $2 = mpirun ("" when not found),
# $3 = the mpi_collectives test program ("" when built without MPI).
# Skips (77) when there is no mpirun or granite has no MPI.
G=${1:?usage: mpi_test.sh granite mpirun mpi_collectives}
case "$G" in /*) ;; *) G="$(pwd)/$G" ;; esac
MPIRUN_BIN=${2:-}
COLLECTIVES=${3:-}
if [ -z "$MPIRUN_BIN" ] || ! command -v "$MPIRUN_BIN" >/dev/null 2>&1; then
  echo "SKIP: mpirun not found (scripts/install-deps.sh installs openmpi-bin)"
  exit 77
fi
if [ -z "$COLLECTIVES" ]; then
  echo "SKIP: granite was built without MPI"
  exit 77
fi
# Two ranks on one machine: more ranks than cores is fine here; Open MPI
# refuses root unless told.
MPIRUN="$MPIRUN_BIN --oversubscribe"
[ "$(id -u)" -eq 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"
export OMP_WAIT_POLICY=passive
if [ -n "${GRANITE_SANITIZERS:-}" ]; then
  # make check-sanitize: Open MPI's components keep allocations until exit from
  # code LeakSanitizer cannot name ("unknown module"), so the ranks run without
  # leak checking (ASan and UBSan stay on; granite's own code is leak-checked by
  # the single-process tests).
  echo "mpi tests: LeakSanitizer off in the ranks (Open MPI's allocations); ASan and UBSan on" >&2
  export ASAN_OPTIONS="${ASAN_OPTIONS:-}:detect_leaks=0"
fi
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
finish() {
  [ $FAILS -eq 0 ] && echo "ok" && exit 0
  echo "$FAILS failure(s)" >&2
  exit 1
}
# mpirun with a deadline: a hang is a failure, never a stuck suite.
mpirun_within() {
  secs=$1
  shift
  timeout -k 5 "$secs" $MPIRUN "$@"
}
# Largest relative difference between the predictions of two
# --gematria_output_csv files (same blocks, same order).
max_rel_diff() {
  paste -d, "$1" "$2" | awk -F, '{ if ($1 != $3) { print "different blocks on line " NR; exit 1 }
    d = $2 - $4; if (d < 0) d = -d; a = $2 < 0 ? -$2 : $2; if (a < 1e-6) a = 1e-6;
    if (d / a > m) m = d / a } END { printf "%.3g\n", m }'
}
# is $1 <= $2 (floats)
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }
SMALL="--gematria_node_embedding_size=32 --gematria_edge_embedding_size=32 --gematria_global_embedding_size=32
  --gematria_node_update_layers=32 --gematria_edge_update_layers=32 --gematria_global_update_layers=32
  --gematria_task_readout_layers=32 --gematria_num_message_passing_iterations=4"
DATA=data/sample/sample.tfrecord
VOCAB=data/sample/vocab.txt

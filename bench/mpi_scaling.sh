#!/bin/sh
# The measurements of docs/distributed.md (`make bench-mpi`, a few minutes):
#  1. training speed, 2 ranks x 1 thread against 1 rank x 2 threads, runs
#     interleaved A B A B ... (the machine may be shared: compare the pairs);
#  2. parameters, hence bytes each rank sends per step, of the default and
#     the 256-wide model (Models 8/9 of the reference log);
#  3. the time of one MPI_Allreduce of that many floats between 2 ranks on
#     this machine: shared memory (Open MPI's default here) and TCP over the
#     loopback interface.
# usage: sh bench/mpi_scaling.sh [build-dir] [rounds]
set -u
B=${1:-build}
ROUNDS=${2:-3}
G=$B/granite
C=$B/mpi_collectives
[ -x "$C" ] || { echo "no $C: granite was built without MPI" >&2; exit 1; }
MPIRUN="mpirun --oversubscribe"
[ "$(id -u)" -eq 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"
export OMP_WAIT_POLICY=passive
D=/tmp/granite-mpi-bench
mkdir -p $D
CSV=../shared/data/bhive-mca/skylake.csv
if [ ! -s $D/data.tfrecord ]; then
  if [ -f $CSV ]; then
    $G import-bhive --output $D/data.tfrecord $CSV 2>/dev/null
  else
    cp data/sample/sample.tfrecord $D/data.tfrecord
  fi
  $G tokens --output $D/vocab.txt $D/data.tfrecord 2>/dev/null
fi
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) (family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' '), model $(grep -m1 '^model[[:space:]]' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')), $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "data: $(ls -la $D/data.tfrecord | awk '{print $5}') bytes of records, $(wc -l <$D/vocab.txt) tokens"

WIDE="--gematria_node_embedding_size=256 --gematria_node_update_layers=256 --gematria_edge_embedding_size=256
  --gematria_edge_update_layers=256 --gematria_global_embedding_size=256 --gematria_global_update_layers=256
  --gematria_task_readout_layers=256"
COMMON="train --gematria_tokens_file=$D/vocab.txt --gematria_input_file=$D/data.tfrecord
  --gematria_max_blocks_in_batch=100 --gematria_learning_rate=0.001 --gematria_loss_type=mean_absolute_error
  --gematria_log_interval_secs=0 --gematria_save_checkpoint_epochs=100000 --nogematria_prefetch_batches"
# blocks/s from metrics.jsonl, leaving out the first 3 steps (start-up)
rate() {
  awk -F'[:,]' '/"time"/ { n++; if (n == 3) { s0 = $2; t0 = $4 } s = $2; t = $4 }
    END { printf "%.1f", (s - s0) * 100 / (t - t0) }' $1/metrics.jsonl
}
params() { sed -n 's/^training [a-z0-9]*: \([0-9]*\) parameters.*/\1/p' $1; }
for cfg in default 256; do
  flags=""
  steps=40
  [ $cfg = 256 ] && flags=$WIDE && steps=15
  for r in $(seq 1 $ROUNDS); do
    rm -rf $D/a $D/b
    $G $COMMON $flags --gematria_training_num_epochs=$steps --gematria_num_threads=2 --gematria_checkpoint_dir=$D/a \
      2>$D/a.err
    $MPIRUN -np 2 $G $COMMON $flags --gematria_training_num_epochs=$steps --gematria_num_threads=1 \
      --gematria_checkpoint_dir=$D/b 2>$D/b.err
    echo "$cfg round $r: 1 rank x 2 threads $(rate $D/a) blocks/s, 2 ranks x 1 thread $(rate $D/b) blocks/s"
  done
  P=$(params $D/a.err)
  echo "$cfg: $P parameters = $((P * 4)) bytes of gradient per step"
  for btl in "" "--mca btl self,tcp --mca btl_tcp_if_include lo"; do
    echo "  $($MPIRUN -np 2 $btl $C bench $P 50 | sed "s/\$/ [${btl:-shared memory}]/")"
  done
done
# the latency term: a 1-float allreduce
for btl in "" "--mca btl self,tcp --mca btl_tcp_if_include lo"; do
  echo "$($MPIRUN -np 2 $btl $C bench 1 200 | sed "s/\$/ [${btl:-shared memory}]/")"
done

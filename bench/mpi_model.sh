#!/bin/sh
# Expected efficiency of data-parallel training over R machines, from
# measured numbers (docs/distributed.md):
#   sh bench/mpi_model.sh PARAMS RATE [BATCH]
# PARAMS: the model's parameters (4 bytes each are allreduced per step);
# RATE: training blocks/s of ONE machine; BATCH: the global batch
# (--gematria_max_blocks_in_batch, 100 in the reference log).
# Per step: compute t_c = BATCH / (R * RATE) (the batch split over R
# machines); communication, ring allreduce of S bytes on links of bandwidth
# bw with a per-message latency a: 2 (R-1)/R * S/bw + 2 a, plus the
# two small collectives of a step (outputs allgather, stop flag): 2 log2(R) a.
# Efficiency t_c / (t_c + t_comm), no overlap. Latency a: 20 us on 10 Gbit/s
# TCP Ethernet, 3 us on a 100 Gbit/s RDMA fabric (typical figures, not
# measured here).
set -u
P=${1:?usage: mpi_model.sh PARAMS RATE [BATCH]}
RATE=${2:?usage: mpi_model.sh PARAMS RATE [BATCH]}
BATCH=${3:-100}
awk -v P="$P" -v rate="$RATE" -v B="$BATCH" 'BEGIN {
  S = 4 * P
  printf "model: %d parameters = %.2f MB per allreduce; one machine: %.1f blocks/s; global batch %d\n", P, S / 1e6, rate, B
  printf "%-9s %-9s %10s %10s %8s %11s %14s %12s\n", "machines", "network", "compute", "comm", "effic.", "speedup", "batch for 90%", "(accumulate)"
  split("10 100", gbit, " "); split("20e-6 3e-6", lat, " ")
  n = split("4 16 64", Rs, " ")
  for (i = 1; i <= n; i++) for (k = 1; k <= 2; k++) {
    R = Rs[i]; bw = gbit[k] * 1e9 / 8; a = lat[k]
    tc = B / (R * rate)
    tm = 2 * (R - 1) / R * S / bw + 2 * (R - 1) * a + 2 * log(R) / log(2) * a
    e = tc / (tc + tm)
    need = 9 * tm * rate * R   # global batch with t_c >= 9 t_comm
    need = need == int(need) ? need : int(need) + 1
    acc = need / B; acc = acc == int(acc) ? acc : int(acc) + 1
    printf "%-9d %-9s %8.2f ms %7.2f ms %7.0f%% %10.1fx %14d %11dx\n", R, gbit[k] " Gbit/s", tc * 1e3, tm * 1e3, 100 * e, R * e, need, acc
  }
}'

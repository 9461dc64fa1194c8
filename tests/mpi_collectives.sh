#!/bin/sh
# dist/dist.h over MPI: allreduce, status agreement, broadcast and gathers
# checked on every rank of `mpirun -np 2` and `-np 3` (tests/mpi_collectives.c).
set -u
. tests/lib_mpi.sh
for np in 2 3; do
  out=$(mpirun_within 60 -np $np "$COLLECTIVES" 2>&1)
  rc=$?
  [ $rc -eq 0 ] || fail "-np $np: status $rc: $out"
  echo "$out" | grep -q "^collectives ok on $np ranks$" || fail "-np $np: $out"
done
# the allreduce benchmark of docs/distributed.md runs and reports
out=$(mpirun_within 60 -np 2 "$COLLECTIVES" bench 1000 5 2>&1)
echo "$out" | grep -q "^allreduce of 1000 floats (0.00 MB) over 2 ranks: best [0-9.]* ms" || fail "bench: $out"
# granite started by mpirun for a command that does not share work refuses
out=$(mpirun_within 60 -np 2 "$G" stats "$DATA" 2>&1)
[ $? -ne 0 ] || fail "granite stats under mpirun succeeded"
[ "$(echo "$out" | grep -c '^granite: error: `granite stats` runs in one process')" -eq 1 ] ||
  fail "stats under mpirun: not one error line: $out"
finish

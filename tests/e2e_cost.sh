#!/bin/sh
# granite cost on a program compiled here: the blocks are extract's and each
# is predicted as `granite predict` predicts it; functions are the nearest
# symbols (checked against nm); totals add up; frequencies weight the blocks
# (unlisted ones count 0); bad input gives one error line naming the place.
# $1 = the granite binary.
set -u
G=${1:?usage: e2e_cost.sh path/to/granite}
case "$G" in /*) ;; *) G="$(pwd)/$G" ;; esac
for tool in cc nm python3; do command -v $tool >/dev/null || { echo "$tool not found: skipped"; exit 77; }; done
T=$(mktemp -d /tmp/granite_e2e_cost_XXXXXX)
trap 'rm -rf "$T"' EXIT
export OMP_WAIT_POLICY=passive OMP_NUM_THREADS=1
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }

cat >$T/prog.c <<'C'
int work(int *a, int n) { int s = 0; for (int i = 0; i < n; i++) s += a[i] * 3; return s; }
int other(int x) { return x * 7 + 1; }
int main(void) { int a[4] = {1, 2, 3, 4}; return work(a, 4) + other(2); }
C
cc -O1 -c -o $T/prog.o $T/prog.c && cc -O1 -o $T/prog $T/prog.c || { echo "cannot compile: skipped"; exit 77; }
"$G" train --gematria_tokens_file=data/sample/vocab.txt --gematria_input_file=data/sample/sample.tfrecord \
  --gematria_max_blocks_in_batch=20 --gematria_training_num_epochs=2 --gematria_node_embedding_size=16 \
  --gematria_edge_embedding_size=16 --gematria_global_embedding_size=16 --gematria_node_update_layers=16 \
  --gematria_edge_update_layers=16 --gematria_global_update_layers=16 --gematria_task_readout_layers=16 \
  --gematria_num_message_passing_iterations=2 --gematria_checkpoint_dir=$T/m --gematria_save_summaries_epochs=0 \
  2>$T/train.err || { echo "FAIL: train: $(tail -1 $T/train.err)"; exit 1; }
C=$T/m/model.ckpt-2

for f in prog.o prog; do
  "$G" cost --checkpoint $C --csv $T/$f.csv $T/$f >$T/$f.out 2>$T/$f.err || fail "cost $f: $(cat $T/$f.err)"
  # the same blocks as extract, predicted as granite predict predicts them
  "$G" extract --quiet --output $T/$f.tfrecord $T/$f || fail "extract $f"
  "$G" predict --gematria_checkpoint_file=$C --gematria_input_file=$T/$f.tfrecord \
    --gematria_output_file=$T/$f.pred.tfrecord --gematria_output_csv=$T/$f.pred.csv 2>/dev/null || fail "predict $f"
  nm --defined-only $T/$f >$T/$f.nm
  python3 - "$T/$f" <<'PY' || fail "cost $f: see above"
import csv, sys
base = sys.argv[1]
rows = list(csv.DictReader(open(base + ".csv")))
ok = True
def bad(msg):
    global ok
    ok = False
    print("FAIL:", base, msg)
# predictions: cost's per block vs granite predict's per distinct block (extract dedups)
mine = sorted(set(round(float(r["prediction"]), 4) for r in rows))
theirs = sorted(set(round(float(l.split(",")[1]), 4) for l in open(base + ".pred.csv")))
if mine != theirs: bad("predictions %s differ from granite predict's %s" % (mine[:5], theirs[:5]))
# functions: the nearest function symbol at or before the block (same section)
syms = {}
for line in open(base + ".nm"):
    parts = line.split()
    if len(parts) == 3 and parts[1] in "Tt":
        syms.setdefault(int(parts[0], 16), parts[2])
for r in rows:
    if r["section"] != ".text": continue
    a = int(r["address"], 16)
    before = [s for s in syms if s <= a]
    want = syms[max(before)] if before else "<.text>"
    if r["function"] != want and not (want.startswith(".") or r["function"] == want.lstrip(".")):
        bad("block %s in %s, nm says %s" % (r["address"], r["function"], want))
for name in ("work", "other", "main"):
    if not any(r["function"] == name for r in rows): bad("no block in %s" % name)
# totals: the summary line and the function table add up to the blocks
out = open(base + ".out").read().splitlines()
total = float(out[0].split("total cost ")[1].split()[0])
s = sum(float(r["cost"]) for r in rows)
if abs(total - s) > 1e-4 * max(1, abs(s)): bad("total %r, blocks sum to %r" % (total, s))
if not all(float(r["frequency"]) == 1 for r in rows): bad("without frequencies every block counts once")
if "work" not in open(base + ".out").read(): bad("work missing from the report")

sys.exit(0 if ok else 1)
PY
done

# frequencies: a loop block run 1000 times dominates; unlisted blocks cost 0
loop=$(awk -F, '$3 == "work" {print $2}' $T/prog.o.csv | sed -n 3p)
printf 'address,frequency\n# the loop body\n%s,1000\n.text:0x0,2\n' "$loop" >$T/freq.csv
"$G" cost --checkpoint $C --frequencies $T/freq.csv --csv $T/w.csv --top 1 $T/prog.o >$T/w.out 2>$T/w.err ||
  fail "weighted: $(cat $T/w.err)"
python3 - "$T" "$loop" <<'PY' || fail "weighted totals"
import csv, sys
t, loop = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(t + "/w.csv")))
freq = {r["address"]: float(r["frequency"]) for r in rows}
want = {loop: 1000.0, "0x0": 2.0}
wrong = [a for a in freq if freq[a] != want.get(a, 0.0)]
if wrong: sys.exit("FAIL: frequencies %s" % {a: freq[a] for a in wrong})
for r in rows:
    if abs(float(r["cost"]) - float(r["prediction"]) * float(r["frequency"])) > 1e-6 * max(1, abs(float(r["cost"]))):
        sys.exit("FAIL: cost != prediction * frequency at %s" % r["address"])
out = open(t + "/w.out").read()
total = float(out.splitlines()[0].split("total cost ")[1].split()[0])
if abs(total - sum(float(r["cost"]) for r in rows)) > 1e-3 * max(1, abs(total)): sys.exit("FAIL: weighted total")
if "work+%s" % hex(int(loop, 16)) not in out.split("most expensive blocks:")[1]:
    sys.exit("FAIL: the loop block is not the most expensive:\n" + out)
PY
[ -s $T/w.err ] && fail "warnings with a matching table: $(cat $T/w.err)"
# a line naming no block start: a warning with the example, still a report
printf '0x3,5\n0x999999,1\n' >$T/freq2.csv
"$G" cost --checkpoint $C --frequencies $T/freq2.csv $T/prog.o >/dev/null 2>$T/w2.err || fail "unmatched lines are not an error"
grep -q "2 lines name no block start.*e.g. 0x3" $T/w2.err || fail "unmatched warning: $(cat $T/w2.err)"

# bad input
printf 'address,frequency\n0x0,1\n0x13,lots\n' >$T/bad.csv
"$G" cost --checkpoint $C --frequencies $T/bad.csv $T/prog.o >/dev/null 2>$T/e1 && fail "bad frequency accepted"
grep -q "$T/bad.csv:3: 'lots' is not a frequency" $T/e1 || fail "bad frequency error: $(cat $T/e1)"
printf 'zz,1\n' >$T/bad2.csv
"$G" cost --checkpoint $C --frequencies $T/bad2.csv $T/prog.o >/dev/null 2>$T/e2 && fail "bad address accepted"
grep -q "$T/bad2.csv:1: 'zz' is not a block address" $T/e2 || fail "bad address error: $(cat $T/e2)"
"$G" cost --checkpoint $C $T/prog.c >/dev/null 2>$T/e3 && fail "a C file accepted as ELF"
grep -q "$T/prog.c: offset 0: not an ELF file" $T/e3 || fail "not-ELF error: $(cat $T/e3)"
head -c 100 $T/prog.o >$T/cut.o
"$G" cost --checkpoint $C $T/cut.o >/dev/null 2>$T/e4 && fail "truncated ELF accepted"
[ "$(wc -l <$T/e4)" = 1 ] && grep -q "$T/cut.o: offset" $T/e4 || fail "truncated ELF error: $(cat $T/e4)"
"$G" cost $T/prog.o >/dev/null 2>&1; [ $? = 2 ] || fail "no checkpoint: not a usage error"
"$G" cost --checkpoint $C >/dev/null 2>&1; [ $? = 2 ] || fail "no file: not a usage error"
"$G" cost --checkpoint $T/none.ckpt $T/prog.o >/dev/null 2>$T/e5 && fail "missing checkpoint accepted"
grep -q "none.ckpt" $T/e5 || fail "missing checkpoint error: $(cat $T/e5)"
# a stripped program: its code is counted under <.text>
cp $T/prog $T/stripped && strip $T/stripped 2>/dev/null &&
  { "$G" cost --checkpoint-dir $T/m $T/stripped >$T/s.out 2>&1 || fail "stripped: $(cat $T/s.out)"
    grep -q "^<.text>" $T/s.out || fail "stripped program: no <.text> entry: $(head -5 $T/s.out)"; }

[ $FAILS = 0 ] && echo "e2e_cost: all passed"
exit $FAILS

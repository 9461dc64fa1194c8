#!/bin/sh
# granite eval's error analysis on a tiny model of the bundled sample: the
# table and the JSON agree with the metrics and with themselves, the held-out
# evaluation reproduces the training run's validation MAPE, the seen/unseen
# graph split is exact on blocks made for it, and bad inputs fail cleanly.
# $1 = the granite binary.
set -u
G=${1:?usage: e2e_error_analysis.sh path/to/granite}
command -v python3 >/dev/null || { echo "python3 is needed to check the JSON" >&2; exit 77; }
DATA=data/sample/sample.tfrecord
VOCAB=data/sample/vocab.txt
T=$(mktemp -d /tmp/granite_e2e_analysis_XXXXXX)
trap 'rm -rf "$T"' EXIT
export OMP_WAIT_POLICY=passive
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }

SMALL="--gematria_node_embedding_size=16 --gematria_edge_embedding_size=16 --gematria_global_embedding_size=16
  --gematria_num_message_passing_iterations=2"
"$G" train --gematria_checkpoint_dir=$T/ck --gematria_tokens_file=$VOCAB --gematria_input_file=$DATA \
  --gematria_max_blocks_in_batch=20 --gematria_training_num_epochs=20 --gematria_save_checkpoint_epochs=20 \
  --gematria_log_interval_secs=0 --gematria_validation_fraction=0.2 $SMALL 2>$T/train.err ||
  fail "training: $(tail -2 $T/train.err)"
CK="--gematria_checkpoint_file=$T/ck/model.ckpt-20 --gematria_input_file=$DATA"
SPLIT="--gematria_training_file_for_split=$DATA --gematria_validation_fraction=0.2"

# the table
"$G" eval $CK $SPLIT --worst=3 >$T/table.txt 2>$T/table.err || fail "eval table: $(tail -1 $T/table.err)"
N=$(sed -n 's/^error analysis of task default: \([0-9]*\) blocks, MAPE .*/\1/p' $T/table.txt)
[ -n "$N" ] && [ "$N" -gt 300 ] || fail "no analysis header with the held-out block count: $(head -5 $T/table.txt)"
for g in "instructions   1 " "division       yes" "memory load    yes" "memory store   yes" "push/pop x3+   yes" \
  "vector regs    yes" "loop-carried   yes" "graph seen     yes" "label decile   D1 " "over-predicted:" \
  "under-predicted:" "off by more than 40%:"; do
  grep -q "^  $g" $T/table.txt || fail "the table has no line '$g'"
done
[ "$(grep -c '^ *[123] .*%.*  [0-9a-f]*  ' $T/table.txt)" -eq 3 ] || fail "want 3 worst blocks: $(tail -4 $T/table.txt)"

# the JSON: valid, consistent with the metrics, groups that add up
"$G" eval $CK $SPLIT --worst=5 --json >$T/e.json 2>$T/e.err || fail "eval --json: $(tail -1 $T/e.err)"
python3 - $T/e.json $T/ck/metrics.jsonl "$G" <<'PY' || fail "JSON analysis wrong"
import json, subprocess, sys
r = json.load(open(sys.argv[1]))
task, ea = r["tasks"][0], r["error_analysis"][0]
assert ea["task"] == "default" and ea["count"] == task["count"], (ea["count"], task["count"])
assert abs(ea["mape"] - task["mape"]) < 1e-6 * task["mape"], (ea["mape"], task["mape"])
# the held-out blocks of eval are training's validation set: same MAPE
val = [json.loads(l) for l in open(sys.argv[2]) if '"validation"' in l][-1]["validation"]
assert abs(100 * val["relative_mae"][0] - task["mape"]) < 1e-4 * task["mape"], (val, task["mape"])
assert ea["over"]["count"] + ea["under"]["count"] <= ea["count"]
assert abs(ea["over"]["error_share"] + ea["under"]["error_share"] - 100) < 1e-6
dims = {}
for g in ea["groups"]:
    d = dims.setdefault(g["dimension"], [0, 0.0, 0.0])
    d[0] += g["count"]; d[1] += g["error_share"] or 0; d[2] += g["count"] * (g["mape"] or 0)
want = {"instructions", "division", "memory load", "memory store", "push/pop x3+", "vector regs", "loop-carried",
        "graph seen", "label decile"}
assert set(dims) == want, dims.keys()
for name, (count, share, weighted) in dims.items():
    assert count == ea["count"], (name, count)
    assert abs(share - 100) < 1e-6, (name, share)
    assert abs(weighted / count - ea["mape"]) < 1e-6 * ea["mape"], (name, weighted / count)
seen = {g["group"]: g["count"] for g in ea["groups"] if g["dimension"] == "graph seen"}
assert seen["yes"] > 0 and seen["no"] > 0, seen  # the sample repeats some graphs across the split
w = ea["worst"]
assert len(w) == 5 and all(a["relative_error"] >= b["relative_error"] for a, b in zip(w, w[1:]))
for x in w:
    assert abs(x["relative_error"] - abs(x["prediction"] - x["label"]) / x["label"]) < 1e-6
    # the hex is the block: granite show decodes it into as many instructions
    out = subprocess.run([sys.argv[3], "show", x["hex"]], capture_output=True, text=True).stdout
    n = int(out.split(": ")[1].split()[0])
    assert n == x["assembly"].count("; ") + 1, (n, x["assembly"])
PY

# the graph split, exactly: blocks differing only in an immediate share a graph
printf '4883c001,100\n4883c07f,200\n4801d8,100\n4801c8,100\n' >$T/eval.csv
printf '4883c005,50\n4801c8,30\n' >$T/train.csv
"$G" import-bhive --output $T/eval.tfrecord $T/eval.csv 2>/dev/null || fail "import eval.csv"
"$G" import-bhive --output $T/train.tfrecord $T/train.csv 2>/dev/null || fail "import train.csv"
"$G" eval --gematria_checkpoint_file=$T/ck/model.ckpt-20 --gematria_input_file=$T/eval.tfrecord \
  --gematria_training_file_for_split=$T/train.tfrecord --json >$T/s.json 2>$T/s.err || fail "split eval: $(cat $T/s.err)"
python3 - $T/s.json <<'PY' || fail "graph split of hand-made blocks wrong"
import json, sys
ea = json.load(open(sys.argv[1]))["error_analysis"][0]
seen = {g["group"]: g["count"] for g in ea["groups"] if g["dimension"] == "graph seen"}
assert seen == {"yes": 3, "no": 1}, seen  # add rax,1 / add rax,0x7f / add rax,rcx seen; add rax,rbx not
PY
# --gematria_output_csv: one line per evaluated block, labels and predictions that give eval's MAPE
"$G" eval --gematria_checkpoint_file=$T/ck/model.ckpt-20 --gematria_input_file=$T/eval.tfrecord \
  --gematria_training_file_for_split=$T/train.tfrecord --json --gematria_output_csv=$T/per_block.csv \
  >$T/c.json 2>$T/c.err || fail "eval --gematria_output_csv: $(cat $T/c.err)"
python3 - $T/per_block.csv $T/c.json $T/eval.csv <<'PY' || fail "per-block CSV wrong"
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert list(rows[0]) == ["hex", "graph_seen", "default_label", "default_prediction"], list(rows[0])
want = [l.strip().split(",") for l in open(sys.argv[3])]
assert [(r["hex"], float(r["default_label"])) for r in rows] == [(h, float(y)) for h, y in want], rows
assert [r["graph_seen"] for r in rows] == ["1", "1", "0", "1"], rows
mape = 100 * sum(abs(float(r["default_prediction"]) - float(r["default_label"])) / float(r["default_label"])
                 for r in rows) / len(rows)
task = json.load(open(sys.argv[2]))["tasks"][0]
assert abs(mape - task["mape"]) < 1e-4 * task["mape"], (mape, task["mape"])
PY
# the held-out part only, with every task column even where a label is absent
"$G" eval $CK $SPLIT --gematria_output_csv=$T/held.csv >/dev/null 2>$T/h.err || fail "held-out CSV: $(cat $T/h.err)"
[ "$(($(wc -l <$T/held.csv) - 1))" -eq "$N" ] || fail "held-out CSV has $(wc -l <$T/held.csv) lines, want $N + 1"
# a CSV that would overwrite an input, or without the analysis that reads the blocks, is refused before any work
cp $T/eval.tfrecord $T/keep.tfrecord
"$G" eval --gematria_checkpoint_file=$T/ck/model.ckpt-20 --gematria_input_file=$T/eval.tfrecord \
  --gematria_output_csv=$T/eval.tfrecord >/dev/null 2>$T/o.err
[ $? -eq 2 ] && [ "$(grep -c 'error:' $T/o.err)" -eq 1 ] && cmp -s $T/eval.tfrecord $T/keep.tfrecord ||
  fail "CSV over the input: $(cat $T/o.err)"
"$G" eval --gematria_checkpoint_file=$T/ck/model.ckpt-20 --gematria_input_file=$T/eval.tfrecord --noerror_analysis \
  --gematria_output_csv=$T/x.csv >/dev/null 2>$T/x.err
[ $? -eq 2 ] && grep -q "noerror_analysis" $T/x.err && [ ! -e $T/x.csv ] || fail "CSV with --noerror_analysis: $(cat $T/x.err)"
# an unwritable place: one error line naming it, no partial file
"$G" eval --gematria_checkpoint_file=$T/ck/model.ckpt-20 --gematria_input_file=$T/eval.tfrecord \
  --gematria_output_csv=$T/nodir/p.csv >/dev/null 2>$T/u.err
[ $? -ne 0 ] && grep -q "nodir/p.csv" $T/u.err || fail "CSV in a missing directory: $(cat $T/u.err)"

# without the split file there is no graph-seen group; --noerror_analysis prints only the metrics
"$G" eval --gematria_checkpoint_file=$T/ck/model.ckpt-20 --gematria_input_file=$T/eval.tfrecord >$T/n.txt 2>/dev/null
grep -q "graph seen" $T/n.txt && fail "a graph-seen group without --gematria_training_file_for_split"
grep -q "error analysis of task default: 4 blocks" $T/n.txt || fail "no analysis of the 4 blocks: $(cat $T/n.txt)"
"$G" eval --gematria_checkpoint_file=$T/ck/model.ckpt-20 --gematria_input_file=$T/eval.tfrecord --noerror_analysis \
  >$T/m.txt 2>/dev/null
grep -q "error analysis" $T/m.txt && fail "--noerror_analysis still printed the analysis"
grep -q "^default  *4 " $T/m.txt || fail "--noerror_analysis lost the metrics: $(cat $T/m.txt)"

# bad inputs: one error line naming the file, non-zero exit, nothing on stdout
"$G" eval $CK --gematria_training_file_for_split=$T/absent.tfrecord --json >$T/bad.out 2>$T/bad.err
rc=$?
[ $rc -ne 0 ] || fail "a missing split file was accepted"
[ "$(grep -c 'error:' $T/bad.err)" -eq 1 ] && grep -q "absent.tfrecord" $T/bad.err ||
  fail "missing split file: $(cat $T/bad.err)"
[ -s $T/bad.out ] && fail "output written despite the missing split file: $(head -c 200 $T/bad.out)"
head -c 100 $DATA >$T/cut.tfrecord
"$G" eval $CK --gematria_training_file_for_split=$T/cut.tfrecord >$T/cut.out 2>$T/cut.err
[ $? -ne 0 ] && grep -q "cut.tfrecord" $T/cut.err || fail "truncated split file: $(cat $T/cut.err)"
"$G" eval $CK --worst=-1 2>$T/w.err
[ $? -eq 2 ] && grep -q -- "--worst=-1" $T/w.err || fail "--worst=-1: $(cat $T/w.err)"
"$G" eval $CK --gematria_validation_fraction=0.0001 --gematria_input_file=$T/eval.tfrecord 2>$T/v.err >/dev/null
[ $? -ne 0 ] && grep -q "held-out" $T/v.err || fail "an empty held-out part: $(cat $T/v.err)"

[ $FAILS -eq 0 ] && echo "e2e_error_analysis: ok"
exit $FAILS

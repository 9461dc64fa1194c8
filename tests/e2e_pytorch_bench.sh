#!/bin/sh
# bench/pytorch_granite.py (granite beside PyTorch, bench/README.md): on a
# graph dump of the bundled sample its model has granite's parameter count for
# the default and 256 configurations, and a short measurement prints its rows.
# Skipped (77) without a python3 that has PyTorch (Debian: python3-torch; not
# in scripts/install-deps.sh, too big for CI). $1 = the granite binary.
set -u
G=${1:?usage: e2e_pytorch_bench.sh path/to/granite}
PY=
for p in python3 /usr/bin/python3; do
  command -v $p >/dev/null 2>&1 && $p -c "import torch, numpy" 2>/dev/null && { PY=$p; break; }
done
[ -n "$PY" ] || { echo "no python3 with torch and numpy: skipped"; exit 77; }
T=$(mktemp -d /tmp/granite_e2e_pytorch_XXXXXX)
trap 'rm -rf "$T"' EXIT
export OMP_NUM_THREADS=1
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }

"$G" bench --input data/sample/sample.tfrecord --tokens data/sample/vocab.txt --configs default,256 --threads 1 \
  --skip-train --skip-predict --skip-latency --skip-sgemm --cache-stream 0 --cache-dir "$T" \
  --dump-graphs "$T/g.jsonl" --json "$T/b.json" >"$T/out.txt" 2>&1 || { echo "FAIL: granite bench: $(tail -1 "$T/out.txt")"; exit 1; }
V=$(sed -n 's/.*(vocabulary size \([0-9]*\)).*/\1/p' "$T/out.txt")
[ -n "$V" ] || fail "no vocabulary size in granite bench's output"
$PY -B bench/pytorch_granite.py "$T/g.jsonl" --vocab-size "${V:-0}" --params-only --json "$T/p.json" >"$T/p.txt" 2>&1 ||
  fail "pytorch_granite.py --params-only: $(tail -1 "$T/p.txt")"
$PY -B - "$T/b.json" "$T/p.json" <<'PY' || fail "parameter counts differ"
import json, sys
g = {r["config"]: r["params"] for r in json.load(open(sys.argv[1]))["results"]}
p = json.load(open(sys.argv[2]))["num_params"]
print("granite", g, "pytorch", p)
assert g == p and set(g) == {"default", "256"}, (g, p)
PY
grep -q MISMATCH "$T/p.txt" && fail "pytorch model differs from spec §4.7: $(grep MISMATCH "$T/p.txt")"
# about a second of measurement on 300 blocks: the table's rows
$PY -B bench/pytorch_granite.py "$T/g.jsonl" --vocab-size "${V:-0}" --limit 300 --configs default --threads 1 \
  --phases train,predict100 --seconds 0.2 --warmup 1 --json "$T/m.json" >"$T/m.txt" 2>&1 || fail "measurement: $(tail -1 "$T/m.txt")"
grep -q "^default *1 *train *[0-9]" "$T/m.txt" || fail "no training row"
grep -q "^default *1 *predict100 *[0-9]" "$T/m.txt" || fail "no prediction row"
$PY -B -c "
import json, sys
r = json.load(open('$T/m.json'))
assert len(r['results']) == 2 and all(x['blocks_per_s'] > 0 and x['steps'] >= 2 for x in r['results']), r['results']
assert r['num_blocks'] == 300, r['num_blocks']" || fail "JSON results"
# the split first layers (the measured model) compute what the concatenated ones do
$PY -B - "$T/g.jsonl" "${V:-0}" <<'PY' || fail "split and unsplit models disagree"
import sys, numpy as np, torch
sys.path.insert(0, "bench")
import pytorch_granite as pg
d = pg.Graphs(sys.argv[1], 200)
for name in ("default", "256"):
    torch.manual_seed(1)
    a = pg.Granite(pg.config(name, int(sys.argv[2])), split=True)
    b = pg.Granite(pg.config(name, int(sys.argv[2])), split=False)
    b.load_state_dict(a.state_dict())
    x = d.batch(np.arange(0, 100))
    with torch.no_grad():
        ya, yb = a(x), b(x)
    assert torch.allclose(ya, yb, rtol=1e-4, atol=1e-4), (name, (ya - yb).abs().max())
PY
[ $FAILS = 0 ] && echo "e2e_pytorch_bench: all passed"
exit $FAILS

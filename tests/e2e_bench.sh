#!/bin/sh
# granite bench on the bundled sample: the table, the JSON fields tools
# read, --dump-graphs (one graph per block, indices local to the block),
# and bad flags. $1 = the granite binary.
set -u
G=${1:?usage: e2e_bench.sh path/to/granite}
T=$(mktemp -d /tmp/granite_e2e_bench_XXXXXX)
trap 'rm -rf "$T"' EXIT
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }

"$G" bench --input data/sample/sample.tfrecord --tokens data/sample/vocab.txt --configs default \
  --threads 1,2 --seconds 0.05 --steps 3 --warmup 1 --predict-batch 50 --latency-calls 20 \
  --json "$T/r.json" --dump-graphs "$T/g.jsonl" >"$T/out.txt" 2>"$T/err.txt" || fail "bench exited $?"
grep -q "FP32 peak: .* = [0-9]* GFLOP/s" "$T/out.txt" || fail "no peak derivation line"
grep -q "^default *1 *fp32 *train" "$T/out.txt" || fail "no 1-thread training row"
grep -q "^default *2 data *fp32 *predict" "$T/out.txt" || fail "no 2-thread prediction row"
grep -q "^latency default" "$T/out.txt" || fail "no latency line"
V=$(sed -n 's/.*(vocabulary size \([0-9]*\)).*/\1/p' "$T/out.txt")
python3 - "$T/r.json" "$T/g.jsonl" "${V:-0}" <<'PY' || fail "JSON or graph dump wrong"
import json, sys
r = json.load(open(sys.argv[1]))
m = r["machine"]
assert m["peak_gflops"] > 0 and m["cores"] >= 1 and "derivation" in m, m
# the FMA rate used is the measured one, and the peak follows from it
assert m["fma_per_cycle_measured"] and m["fma_per_cycle"] >= 0.5, m
lanes = m["peak_lanes"]
assert abs(m["peak_gflops_per_core"] - m["fma_per_cycle"] * lanes * 2 * m["ghz"]) < 0.01 * m["peak_gflops_per_core"], m
assert "family" in m["cpu_id"], m
assert r["data"]["blocks"] > 0
runs = r["results"][0]["runs"]
assert [x["threads"] for x in runs] == [1, 2], runs
for x in runs:
    for phase in ("train", "predict"):
        p = x[phase]
        assert p["steps"] >= 1 and p["blocks"] > 0 and p["flops"] > 0, p
        assert 0 < p["fraction_of_peak"] < 5, p
        assert p["peak_rss_mib"] > 0
        assert p["pass_cpu_seconds"] > 0, p
        if x["threads"] > 1:
            # the replicas' CPU time cannot exceed their wall time (5% for clock granularity)
            assert 0 < p["replica_busy_cpu_seconds"] <= 1.05 * p["replica_busy_seconds"] + 1e-3, p
# FLOP totals against the counting rules of src/train/flops.h (spec 7), written
# out here for the default config (embeddings 128, K = 8, one dense layer per
# update, layer norms on, no readout layers, one task): the model's work is
# affine in the batch's blocks, nodes and edges, so the totals of the phase
# give its total exactly.
V, E = int(sys.argv[3]), 128
assert V > 0, "no vocabulary size printed"
def forward(p):
    B, N, Ed = p["blocks"], p["nodes"], p["edges"]
    enc = 2 * V * E * B
    it_mm = Ed * 2 * 4 * E * E + N * 2 * 3 * E * E + B * 2 * 3 * E * E
    it_other = (Ed + N + B) * E + 2 * Ed * E + N * E + 8 * E * (Ed + N + B)
    mm = enc + 8 * it_mm + B * 2 * E
    other = E * B + 8 * it_other + 2 * 8 * E * B
    return mm, enc, other
for x in runs:
    mm, enc, other = forward(x["predict"])
    want = mm + other
    assert abs(x["predict"]["flops"] - want) <= 1e-9 * want, ("predict FLOPs", x["predict"]["flops"], want)
    t = x["train"]
    mm, enc, other = forward(t)
    fwd_bwd = mm + other + 2 * (mm - enc) + enc + other
    # the rest is the optimizer, 12 FLOPs per parameter per step
    params = (t["flops"] - fwd_bwd) / (12 * t["steps"])
    ref = V * E + 9 * E + V * E + E + (4 * E * E + E) + 2 * (3 * E * E + E) + 2 * 8 * 3 * E + 2 * 2 * E + E
    assert abs(params - ref) <= 1e-6 * ref, ("train FLOPs imply", params, "parameters, the model has", ref)
assert r["results"][0]["latency"]["median_ms"] > 0
assert r["results"][0]["latency_api"]["median_ms"] > 0
cache = r["results"][0]["cache"]
assert cache["entries"] > 0 and 0 < cache["hit_median_ms"] < r["results"][0]["latency_api"]["median_ms"], cache
n = 0
for line in open(sys.argv[2]):
    g = json.loads(line)
    nodes, edges = len(g["node_tokens"]), len(g["edge_types"])
    assert len(g["senders"]) == edges == len(g["receivers"])
    assert len(g["instruction_node_mask"]) == nodes and sum(g["instruction_node_mask"]) >= 1
    assert all(0 <= s < nodes for s in g["senders"] + g["receivers"]), "indices not local"
    assert len(g["throughput"]) == 1
    n += 1
assert n == r["data"]["blocks"], (n, r["data"]["blocks"])
PY
grep -q "vocabulary size" "$T/out.txt" || fail "--dump-graphs does not print the vocabulary size"

# bad input: one error line, non-zero exit
"$G" bench --configs nosuch --input data/sample/sample.tfrecord --tokens data/sample/vocab.txt \
  --skip-sgemm >/dev/null 2>"$T/e1" && fail "unknown config accepted"
[ "$(grep -c 'error' "$T/e1")" = 1 ] || fail "unknown config: not exactly one error line"
"$G" bench --threads 0 >/dev/null 2>"$T/e2" && fail "--threads 0 accepted"
"$G" bench --input /nonexistent.tfrecord --tokens data/sample/vocab.txt >/dev/null 2>"$T/e3" &&
  fail "missing input accepted"
grep -q "nonexistent" "$T/e3" || fail "missing input: error does not name the file"

[ $FAILS = 0 ] && echo "e2e_bench: all passed"
exit $FAILS

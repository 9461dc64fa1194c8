#!/bin/sh
# End-to-end: BHive CSV import, stats, tokens, show, bad input handling.
# $1 = the granite binary; run from the repository root.
set -e
G="$1"
test -x "$G" || { echo "usage: $0 GRANITE_BINARY" >&2; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "e2e_import: FAIL: $*" >&2; exit 1; }
S=data/sample
N=$(wc -l < $S/haswell.csv)

# --- import the bundled sample, two sources ---
"$G" import-bhive --output "$T/s.tfrecord" $S/haswell.csv $S/skylake.csv 2> "$T/import.err" ||
  fail "import of the sample failed: $(cat "$T/import.err")"
test -s "$T/s.tfrecord" || fail "no output file"
ls "$T" | grep -q tmp && fail "temporary file left behind"
"$G" stats "$T/s.tfrecord" > "$T/stats.txt"
grep -q "^records: $N\$" "$T/stats.txt" || fail "stats: expected $N records: $(head -1 "$T/stats.txt")"
grep -q '^sources: 2$' "$T/stats.txt" || fail "stats: expected 2 sources"
grep -q "\"bhive: haswell\": $N records" "$T/stats.txt" || fail "stats: haswell source count"
grep -q "\"bhive: skylake\": $N records" "$T/stats.txt" || fail "stats: skylake source count"
"$G" stats --json "$T/s.tfrecord" | grep -q "\"records\": $N," || fail "stats --json record count"

# --- tokens file: sorted (byte order), holds the expected tokens ---
"$G" tokens --output "$T/vocab.txt" "$T/s.tfrecord" 2> /dev/null
LC_ALL=C sort -c "$T/vocab.txt" || fail "tokens file not sorted"
test "$(sort -u "$T/vocab.txt" | wc -l)" -eq "$(wc -l < "$T/vocab.txt")" || fail "duplicate tokens"
for tok in _ADDRESS_ _D_ _MEMORY_ _IMMEDIATE_ _NO_REGISTER_ _DISPLACEMENT_ RSP EFLAGS MOV; do
  grep -qx -- "$tok" "$T/vocab.txt" || fail "token $tok missing from the tokens file"
done

# Gematria's fixture: 56 tokens with the 7 structural ones (spec §9), none of them _UNKNOWN_
FX=../shared/data/gematria-fixtures/basic_blocks_with_throughput.tfrecord
SKIPPED=
if test -f $FX; then
  "$G" tokens --output "$T/fx.txt" $FX 2> /dev/null
  test "$(wc -l < "$T/fx.txt")" -eq 55 || fail "fixture tokens: expected 55, got $(wc -l < "$T/fx.txt")"
else
  SKIPPED="$FX not found: the fixture's tokens"
fi

# --- show: the spec §3.7 block ---
B=4829d38b44246c8b54246848c1fb034829d04839c3
"$G" show $B > "$T/show.txt"
grep -q 'graph: 25 nodes, 30 edges' "$T/show.txt" || fail "show: expected 25 nodes, 30 edges: $(grep graph "$T/show.txt")"
grep -q 'tokens: SUB _D_ RBX EFLAGS _D_ RBX RDX _D_' "$T/show.txt" || fail "show: token list of SUB RBX,RDX"
"$G" show --json $B > "$T/show.json"
grep -q '"num_nodes": 25, "num_edges": 30' "$T/show.json" || fail "show --json: graph size"
"$G" show "$T/s.tfrecord" --record 2 --tokens "$T/vocab.txt" > "$T/rec.txt"
grep -q '"bhive: skylake":' "$T/rec.txt" || fail "show record: throughputs"
grep -q 'out-of-vocabulary tokens: 0' "$T/rec.txt" || fail "show record: OOV count"

# --- Gematria flag spellings, scaling ---
head -3 $S/haswell.csv > "$T/three.csv"
"$G" import-bhive --gematria_input_csv="$T/three.csv" --gematria_output_tfrecord="$T/g.tfrecord" \
  --gematria_throughput_source_name="bhive: hsw" --gematria_throughput_scaling=0.01 2> /dev/null
V=$(head -1 "$T/three.csv" | cut -d, -f2)
"$G" show "$T/g.tfrecord" --record 0 > "$T/g.txt"
E=$(awk -v v="$V" 'BEGIN { printf "%g", v * 0.01 }')
grep -q "\"bhive: hsw\": $E\$" "$T/g.txt" || fail "scaled throughput $E not shown: $(grep hsw "$T/g.txt")"

# --- garbage lines are counted, not fatal ---
{
  echo "hex,throughput"
  head -2 $S/haswell.csv
  echo ""
  echo "4829d,100"
  echo "48zz,100"
  echo "4829d3"
  echo "4829d3,nan"
  echo "4829d3,-5"
  echo "0f0b0f,100"
  printf '%s\r\n' "$(sed -n 3p $S/haswell.csv)"
  head -1 $S/haswell.csv
} > "$T/bad.csv"
"$G" import-bhive --output "$T/bad.tfrecord" "$T/bad.csv" 2> "$T/bad.err" || fail "import of a bad CSV must not fail"
"$G" stats "$T/bad.tfrecord" | grep -q '^records: 3$' || fail "bad CSV: expected 3 records"
for kind in "header line" "empty line" "odd hex length" "invalid hex character" "missing column" \
  "non-finite throughput" "negative throughput" "duplicate block" "undecodable bytes"; do
  grep -q "skipped 1 line: $kind" "$T/bad.err" || fail "bad CSV: '$kind' not reported: $(cat "$T/bad.err")"
done
grep -q "$T/bad.csv:5:" "$T/bad.err" || fail "bad CSV: no file:line example"

# --- a corrupted record is detected and named (record 1) ---
cp "$T/s.tfrecord" "$T/c.tfrecord"
L=$(od -An -tu8 -N8 "$T/c.tfrecord" | tr -d ' ')
OFF=$((12 + L + 4 + 12 + 5)) # 5 bytes into the payload of record 1
printf '\377' | dd of="$T/c.tfrecord" bs=1 seek=$OFF conv=notrunc 2> /dev/null
set +e
"$G" stats "$T/c.tfrecord" > /dev/null 2> "$T/c.err"
RC=$?
set -e
test $RC -ne 0 || fail "corrupted file: exit status 0"
grep -q "c.tfrecord: record 1:" "$T/c.err" || fail "corrupted file: error does not name record 1: $(cat "$T/c.err")"

# --- unknown flag: one error line, exit 2 ---
for cmd in import-bhive tokens show stats; do
  set +e
  "$G" $cmd --no-such-flag x > /dev/null 2> "$T/flag.err"
  RC=$?
  set -e
  test $RC -eq 2 || fail "$cmd: unknown flag gave exit $RC"
  test "$(wc -l < "$T/flag.err")" -eq 1 || fail "$cmd: expected one error line"
  "$G" $cmd --help | grep -q -- '--help' || fail "$cmd --help"
done
# --- missing required flag or input: one error line naming it, exit 2 ---
check_usage_error() { # expected-text command...
  want=$1
  shift
  set +e
  "$G" "$@" > /dev/null 2> "$T/usage.err"
  RC=$?
  set -e
  test $RC -eq 2 || fail "$*: exit $RC, expected 2"
  test "$(wc -l < "$T/usage.err")" -eq 1 || fail "$*: expected one error line"
  grep -q -- "$want" "$T/usage.err" || fail "$*: error does not say '$want': $(cat "$T/usage.err")"
}
check_usage_error "--output is required" import-bhive data/sample/haswell.csv
check_usage_error "no input CSV file given" import-bhive --output "$T/none.tfrecord"
check_usage_error "--output is required" tokens data/sample/sample.tfrecord
check_usage_error "no input .tfrecord file given" stats
test ! -e "$T/none.tfrecord" || fail "a failed import left an output file"
if [ -n "$SKIPPED" ]; then
  echo "e2e_import: SKIPPED: $SKIPPED (everything else passed)" >&2
  exit 77
fi
echo "e2e_import: ok"

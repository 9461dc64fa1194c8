#!/bin/sh
# Seed corpora for the fuzz targets (tests/fuzz), made from real files: the
# sample data, the shared Gematria fixtures when present, and a checkpoint
# trained here for a few steps. Small seeds, written at build time rather
# than committed. $1 = the granite binary, $2 = the output directory (one
# sub-directory per target). Run by scripts/fuzz.sh when $2 is missing.
set -eu
G=$1
OUT=$2
SRC=$(cd "$(dirname "$0")/.." && pwd)
SHARED=$SRC/../shared/data
T=$(mktemp -d /tmp/granite_fuzz_seeds_XXXXXX)
trap 'rm -rf "$T"' EXIT
for t in tfrecord proto bhive_csv hex canonicalize graph tokens checkpoint checkpoint_index flags elf; do
  mkdir -p "$OUT/fuzz_$t"
done

u64() { od -An -t u8 -j "$2" -N 8 "$1" | tr -d ' '; }
# bytes [from, from+n) of a file
slice() { tail -c +$(($2 + 1)) "$1" | head -c "$3"; }
# hex text -> binary (POSIX printf understands octal escapes only)
unhex() {
  printf "$(echo "$1" | awk '{ h = "0123456789abcdef"; s = tolower($0);
    for (i = 1; i < length(s); i += 2)
      printf "\\%03o", (index(h, substr(s, i, 1)) - 1) * 16 + index(h, substr(s, i + 1, 1)) - 1 }')"
}

# TFRecord files: the first records of each, and their payloads as messages.
n=0
for f in "$SRC/data/sample/sample.tfrecord" "$SHARED/gematria-fixtures/basic_blocks_with_throughput.tfrecord"; do
  [ -f "$f" ] || continue
  off=0
  i=0
  while [ $i -lt 12 ]; do
    len=$(u64 "$f" $off)
    [ -n "$len" ] || break
    slice "$f" $((off + 12)) "$len" >"$OUT/fuzz_proto/record$n-$i"
    { printf '\001'; cat "$OUT/fuzz_proto/record$n-$i"; } >"$OUT/fuzz_graph/record$n-$i"
    off=$((off + len + 16))
    i=$((i + 1))
    [ $i -eq 3 ] && slice "$f" 0 $off >"$OUT/fuzz_tfrecord/first3-$n"
  done
  slice "$f" 0 $off >"$OUT/fuzz_tfrecord/first12-$n"
  n=$((n + 1))
done
: >"$OUT/fuzz_tfrecord/empty"

# BHive CSV: a few lines of each sample file and of real source files.
for f in "$SRC"/data/sample/*.csv "$SHARED/bhive/may-alias.csv" "$SHARED"/bhive/sources/gzip-compress.csv; do
  [ -f "$f" ] || continue
  b=$(basename "$f" .csv)
  head -n 8 "$f" >"$OUT/fuzz_bhive_csv/$b"
done
i=0
head -n 40 "$SRC/data/sample/haswell.csv" | cut -d, -f1 | while read -r hex; do
  printf '%s' "$hex" >"$OUT/fuzz_hex/line$i"
  unhex "$hex" >"$OUT/fuzz_canonicalize/block$i"
  { printf '\000'; cat "$OUT/fuzz_canonicalize/block$i"; } >"$OUT/fuzz_graph/code$i"
  i=$((i + 1))
done

# ELF files (fuzz_elf, the reader of granite extract): small ones of this machine.
for f in /usr/bin/true /usr/lib/x86_64-linux-gnu/crt1.o /usr/lib/x86_64-linux-gnu/crti.o; do
  [ -f "$f" ] && cp "$f" "$OUT/fuzz_elf/" || true
done

# Tokens files.
cp "$SRC/data/sample/vocab.txt" "$OUT/fuzz_tokens/sample"
[ -f "$SHARED/reference-model/tokens.txt" ] && cp "$SHARED/reference-model/tokens.txt" "$OUT/fuzz_tokens/reference"

# Flags: real command lines, arguments separated by NUL bytes.
args() { printf '%s\000' "$@" | head -c -1; }
args train --gematria_checkpoint_dir=ck --gematria_tokens_file=vocab.txt --gematria_input_file=a.tfrecord \
  --gematria_max_blocks_in_batch=50 --gematria_learning_rate=0.001 --gematria_node_update_layers=32,32 \
  --gematria_loss_type=huber --gematria_throughput_source_filter=hsw --gematria_task_names=hsw >"$OUT/fuzz_flags/train"
args predict --gematria_checkpoint_file ck/model.ckpt-10 --gematria_input_file a.tfrecord \
  --gematria_output_file out.tfrecord --gematria_output_csv=out.csv --nogematria_drop_invalid_blocks >"$OUT/fuzz_flags/predict"
args --output out.tfrecord --source hsw --scale 100 --column 0x1 -q a.csv b.csv >"$OUT/fuzz_flags/import"

# A checkpoint trained for a few steps (Adam, and SGD without optimizer
# buffers), split into "<header>\0<payload>" as fuzz_checkpoint wants it.
TOKENS=$SHARED/reference-model/tokens.txt # 56 tokens: a small embedding table
[ -f "$TOKENS" ] || TOKENS=$SRC/data/sample/vocab.txt
head -c "$(wc -c <"$OUT/fuzz_tfrecord/first12-0")" "$SRC/data/sample/sample.tfrecord" >"$T/data.tfrecord"
SMALL="--gematria_node_embedding_size=4 --gematria_edge_embedding_size=4 --gematria_global_embedding_size=4
  --gematria_node_update_layers=4 --gematria_edge_update_layers=4 --gematria_global_update_layers=4
  --gematria_readout_layers=4 --gematria_task_readout_layers=4 --gematria_num_message_passing_iterations=2"
for opt in ADAM SGD; do
  "$G" train --gematria_checkpoint_dir="$T/$opt" --gematria_tokens_file="$TOKENS" \
    --gematria_input_file="$T/data.tfrecord" --gematria_training_num_epochs=3 --gematria_num_threads=1 \
    --gematria_optimizer_type=$opt --gematria_log_interval_secs=0 $SMALL >/dev/null 2>"$T/$opt.err" ||
    { cat "$T/$opt.err" >&2; exit 1; }
  ck=$(ls "$T/$opt"/model.ckpt-* | head -n 1)
  hl=$(u64 "$ck" 12)
  total=$(wc -c <"$ck")
  { slice "$ck" 28 "$hl"; printf '\000'; slice "$ck" $((28 + hl)) $((total - 28 - hl - 4)); } >"$OUT/fuzz_checkpoint/$opt"
  cp "$T/$opt/checkpoint" "$OUT/fuzz_checkpoint_index/$opt"
done

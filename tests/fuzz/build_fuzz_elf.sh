#!/bin/sh
# Builds the libFuzzer target tests/fuzz/fuzz_elf.c with clang, ASan and
# UBSan, from the collect/ sources and what they use (no CMake needed), and
# seeds a corpus with ELF files of this machine. Run from the repository root;
# needs clang (Debian `clang`) and a configured build/ (for gematria.pb-c.h).
set -e
OUT=${1:-build-fuzz}
GEN=build/gen
test -f $GEN/gematria.pb-c.h || { echo "run 'make build' first (needs $GEN/gematria.pb-c.h)" >&2; exit 1; }
mkdir -p "$OUT/corpus-elf"
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE \
  -Isrc -I$GEN tests/fuzz/fuzz_elf.c src/collect/*.c src/x86/*.c src/io/block_io.c src/io/tfrecord.c \
  src/util/common.c src/util/crc32c.c $GEN/gematria.pb-c.c -lZydis -lprotobuf-c -lm -o "$OUT/fuzz_elf"
for f in /usr/bin/true /usr/lib/x86_64-linux-gnu/crt1.o /usr/lib/x86_64-linux-gnu/libz.so.1; do
  test -f "$f" && cp "$f" "$OUT/corpus-elf/" || true
done
echo "built $OUT/fuzz_elf; run: $OUT/fuzz_elf -max_total_time=120 -max_len=65536 $OUT/corpus-elf"

#!/bin/sh
# End-to-end: granite extract and granite filter on ELF files built here with
# as/gcc/strip (an object file, a shared library, executables, stripped
# copies), exact block boundaries of a known assembly function, hostile files
# (truncated, 32-bit, AArch64, section past the end, not ELF), and
# extract -> filter -> predict with a model trained here.
# $1 = the granite binary; run from the repository root.
set -u
G=${1:?usage: e2e_collect.sh path/to/granite}
case "$G" in /*) ;; *) G="$(pwd)/$G" ;; esac
for tool in as gcc strip od dd; do
  command -v $tool >/dev/null || { echo "e2e_collect: $tool missing; skipped" >&2; exit 77; }
done
T=$(mktemp -d /tmp/granite_e2e_collect_XXXXXX)
trap 'rm -rf "$T"' EXIT
export OMP_WAIT_POLICY=passive OMP_NUM_THREADS=2
FAILS=0
fail() { echo "e2e_collect: FAIL: $*" >&2; FAILS=$((FAILS + 1)); }

# --- a known function: f (a loop and a call), g (ends in syscall), h (reached only through its symbol)
cat > $T/known.s <<'EOF'
	.text
	.globl f
	.type f, @function
f:
	xor %eax, %eax
	test %rdi, %rdi
	je .Ldone
.Lloop:
	add %rdi, %rax
	dec %rdi
	jne .Lloop
	call g
.Ldone:
	imul $3, %rax, %rax
	ret
	.globl g
	.type g, @function
g:
	mov %rdi, %rax
	syscall
	add $1, %rax
	.globl h
	.type h, @function
h:
	shl $2, %rax
	ret
EOF
as $T/known.s -o $T/known.o || fail "as"
cp $T/known.o $T/known_stripped.o && strip $T/known_stripped.o
gcc -nostdlib -static -Wl,-e,f $T/known.o -o $T/known_exe || fail "link known_exe"
gcc -nostdlib -shared $T/known.o -o $T/known.so || fail "link known.so"

# exact blocks: a leader at every branch target, after every branch, call,
# return and syscall, and at every symbol (the call is unrelocated: e8 00000000)
printf '%s\n' 31c04885ff740d 4801f848ffcf75f8 e800000000 486bc003c3 4889f80f05 4883c001 48c1e002c3 > $T/known.want
"$G" extract --csv $T/known.csv --output $T/known.tfrecord $T/known.o 2> $T/known.err || fail "extract known.o: $(cat $T/known.err)"
cmp -s $T/known.csv $T/known.want || fail "known.o blocks: $(tr '\n' ' ' < $T/known.csv)"
grep -q '^extract: 1 files (0 unreadable, 0 without symbols), 1 sections, 39 bytes, 14 instructions, 7 blocks: 7 written, 0 duplicates$' \
  $T/known.err || fail "known.o summary: $(head -1 $T/known.err)"
"$G" show $T/known.tfrecord --record 4 > $T/rec4.txt
grep -q "^fingerprint: $T/known.o:.text:0x19+5\$" $T/rec4.txt || fail "fingerprint of block 4: $(grep fingerprint $T/rec4.txt)"
grep -q 'syscall' $T/rec4.txt || fail "block 4 is not mov+syscall: $(cat $T/rec4.txt)"

# the records canonicalize exactly as import-bhive's records of the same hex do
sed 's/$/,1/' $T/known.csv > $T/known_bhive.csv
"$G" import-bhive --quiet --output $T/known_bhive.tfrecord $T/known_bhive.csv || fail "import-bhive of the blocks"
for i in 0 1 2 3 4 5 6; do
  "$G" show $T/known.tfrecord --record $i | grep 'tokens:' > $T/tok_extract.txt
  "$G" show $T/known_bhive.tfrecord --record $i | grep 'tokens:' > $T/tok_import.txt
  test -s $T/tok_extract.txt && cmp -s $T/tok_extract.txt $T/tok_import.txt || fail "record $i: tokens differ from import-bhive"
done

# stripped: h is no longer a leader, so its body joins the block before it
printf '%s\n' 31c04885ff740d 4801f848ffcf75f8 e800000000 486bc003c3 4889f80f05 4883c00148c1e002c3 > $T/stripped.want
"$G" extract --csv $T/stripped.csv $T/known_stripped.o 2> $T/stripped.err || fail "extract stripped: $(cat $T/stripped.err)"
cmp -s $T/stripped.csv $T/stripped.want || fail "stripped blocks: $(tr '\n' ' ' < $T/stripped.csv)"
grep -q '1 without symbols' $T/stripped.err || fail "stripped file not reported: $(head -1 $T/stripped.err)"

# linked: the call is resolved (e8 05000000 to g); shared library: through the PLT, whose entry is a leader
"$G" extract --csv $T/exe.csv $T/known_exe 2> /dev/null || fail "extract executable"
sed 's/^e800000000$/e805000000/' $T/known.want | cmp -s - $T/exe.csv || fail "executable blocks: $(tr '\n' ' ' < $T/exe.csv)"
"$G" extract --csv $T/so.csv $T/known.so 2> $T/so.err || fail "extract shared library"
for b in 31c04885ff740d 4801f848ffcf75f8 486bc003c3 4889f80f05 4883c001 48c1e002c3; do
  grep -qx $b $T/so.csv || fail "shared library: block $b missing"
done
grep -q ', 2 sections,' $T/so.err || fail "shared library: .plt and .text expected: $(head -1 $T/so.err)"

# object file with one section per function: every section starts at 0, so a
# jump target in .text.a (offset 5) must not split .text.b at its offset 5
cat > $T/sections.s <<'EOF'
	.section .text.a,"ax",@progbits
	xor %eax, %eax
	jmp .Lt
	nop
.Lt:	ret
	.section .text.b,"ax",@progbits
	mov %edi, %eax
	add %rdi, %rax
	add %rdi, %rax
	ret
EOF
as $T/sections.s -o $T/sections.o || fail "as sections.s"
"$G" extract --csv $T/sections.csv $T/sections.o 2> /dev/null || fail "extract sections.o"
printf '%s\n' 31c0eb01 90 c3 89f84801f84801f8c3 | cmp -s - $T/sections.csv || fail "sections.o blocks: $(tr '\n' ' ' < $T/sections.csv)"

# --- a C program: object file, shared library, PIE executable, stripped copy, all at once
cat > $T/prog.c <<'EOF'
#include <stdio.h>
#include <stdlib.h>
int collatz(long n) { int steps = 0; while (n != 1) { n = n % 2 ? 3 * n + 1 : n / 2; steps++; } return steps; }
double mean(const double *x, int n) { double s = 0; for (int i = 0; i < n; i++) s += x[i] * 0.5 + 1.0; return s / n; }
int classify(int c) { switch (c) { case 0: return 7; case 1: return 3; case 2: return 11; case 3: return 5; default: return c * c; } }
int main(int argc, char **argv) {
  double v[8]; for (int i = 0; i < 8; i++) v[i] = i * 1.5;
  printf("%d %f %d\n", collatz(argc + 26), mean(v, 8), classify(argc));
  return argc > 3 ? EXIT_FAILURE : 0;
}
EOF
gcc -O2 -c $T/prog.c -o $T/prog.o && gcc -O2 -shared -fPIC $T/prog.c -o $T/libprog.so && gcc -O2 $T/prog.c -o $T/prog ||
  fail "compile prog.c"
cp $T/prog $T/prog_stripped && strip $T/prog_stripped
"$G" extract --output $T/prog.tfrecord --csv $T/prog.csv $T/prog.o $T/libprog.so $T/prog $T/prog_stripped 2> $T/prog.err ||
  fail "extract prog: $(cat $T/prog.err)"
grep -q '^extract: 4 files (0 unreadable' $T/prog.err || fail "prog summary: $(head -1 $T/prog.err)"
DUP=$(sed -n 's/.* \([0-9]*\) duplicates$/\1/p' $T/prog.err)
test "${DUP:-0}" -gt 20 || fail "the same functions in four files should give duplicates: $(head -1 $T/prog.err)"
N=$(wc -l < $T/prog.csv)
"$G" stats $T/prog.tfrecord | grep -q "^records: $N\$" || fail "tfrecord and CSV disagree ($N lines)"
test "$(sort $T/prog.csv | uniq -d | wc -l)" -eq 0 || fail "duplicate blocks written"
ls $T | grep -q tmp && fail "temporary file left behind"

# --- hostile files: one error line naming the file and the place, exit 1, nothing overwritten
echo "old content" > $T/out.tfrecord
bad() { # name, expected message
  "$G" extract --output $T/out.tfrecord $T/known.o "$T/$1" > $T/bad.out 2> $T/bad.err
  rc=$?
  test $rc -eq 1 || fail "$1: exit status $rc, expected 1"
  test "$(wc -l < $T/bad.err)" -eq 1 || fail "$1: expected one error line: $(cat $T/bad.err)"
  grep -q "^granite: error: $T/$1: $2" $T/bad.err || fail "$1: message: $(cat $T/bad.err)"
  test "$(cat $T/out.tfrecord)" = "old content" || fail "$1: existing output overwritten"
}
head -c 40 $T/known.o > $T/truncated.o
bad truncated.o "offset 40: file ends inside the ELF header"
head -c 200 $T/known.o > $T/cut.o
bad cut.o "offset 0x[0-9a-f]*: section header table at 0x[0-9a-f]* is past the end of the file (200 bytes)"
cp $T/known.o $T/class32.o && printf '\001' | dd of=$T/class32.o bs=1 seek=4 conv=notrunc 2> /dev/null
bad class32.o "offset 0x4: EI_CLASS=1 (32-bit ELF): only ELF64 x86-64 is supported"
cp $T/known.o $T/arm.o && printf '\267\000' | dd of=$T/arm.o bs=1 seek=18 conv=notrunc 2> /dev/null
bad arm.o "offset 0x12: e_machine=183 (AArch64): only x86-64"
cp $T/known.s $T/text.s
bad text.s "offset 0: not an ELF file"
bad missing.o "cannot read: No such file or directory"
mkdir $T/dir.o
bad dir.o "cannot read: not a regular file"
ls $T | grep -q tmp && fail "temporary file left behind after errors"

# usage errors exit 2; --quiet prints nothing on success
"$G" extract 2> $T/usage.err; test $? -eq 2 || fail "extract without files must exit 2"
grep -q 'extract: no ELF file given' $T/usage.err || fail "usage error: $(cat $T/usage.err)"
"$G" extract --bogus $T/known.o 2> /dev/null; test $? -eq 2 || fail "unknown flag must exit 2"
"$G" extract --quiet --csv $T/q.csv $T/known.o > $T/q.out 2>&1 || fail "--quiet run failed"
test -s $T/q.out && fail "--quiet printed: $(cat $T/q.out)"
cmp -s $T/q.csv $T/known.want || fail "--quiet output"

# --keep-going: bad files are reported and skipped, the good ones written
"$G" extract --keep-going --csv $T/kg.csv $T/arm.o $T/known.o $T/text.s 2> $T/kg.err || fail "--keep-going failed"
cmp -s $T/kg.csv $T/known.want || fail "--keep-going output"
grep -q "^granite: warning: skipped $T/arm.o: offset 0x12: e_machine=183" $T/kg.err || fail "--keep-going warning: $(cat $T/kg.err)"
grep -q '^extract: 3 files (2 unreadable' $T/kg.err || fail "--keep-going summary: $(grep extract: $T/kg.err)"
"$G" extract --keep-going --csv $T/kg2.csv $T/arm.o $T/text.s 2> $T/kg2.err && fail "all files bad must fail"
grep -q 'none of the 2 files could be read' $T/kg2.err || fail "all bad: $(tail -1 $T/kg2.err)"

# a code section whose offset points past the end of the file: a counted skip
SHOFF=$(od -An -t u8 -j 40 -N 8 $T/known.o | tr -d ' ')
cp $T/known.o $T/past.o && printf '\377\377\377\177' | dd of=$T/past.o bs=1 seek=$((SHOFF + 64 + 24)) conv=notrunc 2> /dev/null
"$G" extract --csv $T/past.csv $T/past.o $T/known_exe 2> $T/past.err || fail "section past EOF must be a skip: $(cat $T/past.err)"
grep -q "skipped 1: section data past the end of the file (e.g. $T/past.o: section .text \[1\] at offset 0x7fffffff, size 0x27" \
  $T/past.err || fail "section past EOF not reported: $(cat $T/past.err)"
test "$(wc -l < $T/past.csv)" -eq 7 || fail "blocks of the good file lost"

# --- filter: the known blocks, stripped of branches; the syscall block and the lone call go
"$G" filter --output $T/f.tfrecord --csv $T/f.csv $T/known.tfrecord 2> $T/f.err || fail "filter: $(cat $T/f.err)"
printf '%s\n' 31c04885ff 4801f848ffcf 486bc003 4883c001 48c1e002 > $T/f.want
cmp -s $T/f.csv $T/f.want || fail "filtered blocks: $(tr '\n' ' ' < $T/f.csv)"
grep -q '^filter: 7 records, 5 kept (4 changed), 2 dropped; 5 branches/calls/returns stripped' $T/f.err ||
  fail "filter summary: $(head -1 $T/f.err)"
grep -q "dropped 1: system call .*(e.g. $T/known.tfrecord: record 4, byte 3)" $T/f.err || fail "syscall not counted: $(cat $T/f.err)"
grep -q "dropped 1: empty after stripping" $T/f.err || fail "empty block not counted"
"$G" show $T/f.tfrecord --record 0 | grep -q "^fingerprint: $T/known.o:.text:0x0+7" || fail "filter lost the fingerprint"
"$G" filter --output $T/f1.tfrecord --csv $T/f1.csv --max-instructions=1 $T/known.tfrecord 2> $T/f1.err
grep -q 'dropped 2: more instructions than --max-instructions' $T/f1.err || fail "--max-instructions: $(cat $T/f1.err)"
"$G" filter --output $T/f2.tfrecord --min-instructions=2 $T/known.tfrecord 2> $T/f2.err
grep -q 'dropped 3: fewer instructions than --min-instructions' $T/f2.err || fail "--min-instructions: $(cat $T/f2.err)"
"$G" filter --output $T/f3.tfrecord --csv $T/f3.csv --remove-instructions $T/known.tfrecord 2> $T/f3.err
grep -qx 4889f8 $T/f3.csv || fail "--remove-instructions: syscall not removed: $(cat $T/f3.csv)"
grep -q ', 1 instructions removed' $T/f3.err || fail "--remove-instructions count: $(head -1 $T/f3.err)"
"$G" filter --output $T/fm.tfrecord --drop-memory-blocks $T/prog.tfrecord 2> $T/fm.err
grep -q 'dropped [0-9]*: memory access' $T/fm.err || fail "--drop-memory-blocks: $(cat $T/fm.err)"
# bad input and usage
echo "old content" > $T/fout.tfrecord
"$G" filter --output $T/fout.tfrecord $T/known.s 2> $T/fbad.err && fail "filter of a non-tfrecord file must fail"
grep -q "granite: error: $T/known.s" $T/fbad.err || fail "filter error does not name the file: $(cat $T/fbad.err)"
test "$(cat $T/fout.tfrecord)" = "old content" || fail "filter overwrote its output after an error"
"$G" filter --output $T/x.tfrecord --min-instructions=5 --max-instructions=2 $T/known.tfrecord 2> /dev/null
test $? -eq 2 || fail "--min > --max must be a usage error"

# --- extract -> filter -> predict with a model trained here on the bundled sample
"$G" filter --output $T/clean.tfrecord $T/prog.tfrecord 2> $T/clean.err || fail "filter prog: $(cat $T/clean.err)"
K=$(sed -n 's/^filter: [0-9]* records, \([0-9]*\) kept.*/\1/p' $T/clean.err)
test "${K:-0}" -gt 20 || fail "too few blocks kept: $(head -1 $T/clean.err)"
"$G" train --gematria_checkpoint_dir=$T/ck --gematria_tokens_file=data/sample/vocab.txt \
  --gematria_input_file=data/sample/sample.tfrecord --gematria_max_blocks_in_batch=20 --gematria_training_num_epochs=2 \
  --gematria_node_embedding_size=16 --gematria_edge_embedding_size=16 --gematria_global_embedding_size=16 \
  --gematria_node_update_layers=16 --gematria_edge_update_layers=16 --gematria_global_update_layers=16 \
  --gematria_task_readout_layers=16 --gematria_num_message_passing_iterations=2 2> $T/train.err ||
  fail "train: $(tail -1 $T/train.err)"
"$G" predict --gematria_checkpoint_file=$T/ck/model.ckpt-2 --gematria_input_file=$T/clean.tfrecord \
  --gematria_output_file=$T/pred.tfrecord 2> $T/pred.err || fail "predict: $(tail -1 $T/pred.err)"
grep -q "predicted $K of $K blocks" $T/pred.err || fail "predict: $(tail -1 $T/pred.err)"
"$G" stats $T/pred.tfrecord | grep -q "\"granite: model.ckpt-2, task=default\": $K records" || fail "not every block predicted"

test $FAILS -eq 0 || exit 1
echo "e2e_collect: all checks passed"

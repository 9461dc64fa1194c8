#!/bin/sh
# Assembly in, from the command line: `granite show --asm/--asm-file [--att]`
# and `granite predict --asm/--asm-file/--hex`: same tokens and predictions as
# the hex form, as's errors passed on with the file and line, a clear error
# without `as` on PATH, misuse refused. $1 = the granite binary.
set -u
G=${1:?usage: e2e_asm.sh path/to/granite}
case "$G" in /*) ;; *) G="$(pwd)/$G" ;; esac
command -v as >/dev/null || { echo "GNU as not found: skipped"; exit 77; }
T=$(mktemp -d /tmp/granite_e2e_asm_XXXXXX)
trap 'rm -rf "$T"' EXIT
export OMP_WAIT_POLICY=passive OMP_NUM_THREADS=1
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
tokens() { grep 'tokens:' | sed 's/^ *tokens: *//'; }

HEX=4801d8480fafc8
"$G" show $HEX | tokens >$T/hex.tok || fail "show hex"
"$G" show --asm 'add rax, rbx; imul rcx, rax' | tokens >$T/intel.tok || fail "show --asm"
"$G" show --att --asm 'addq %rbx, %rax; imulq %rax, %rcx' | tokens >$T/att.tok || fail "show --att --asm"
printf '\t.text\n# a block\n\tadd rax, rbx\n\timul rcx, rax\n' >$T/b.s
"$G" show --asm-file $T/b.s | tokens >$T/file.tok || fail "show --asm-file"
[ -s $T/hex.tok ] || fail "no tokens from show"
for f in intel att file; do cmp -s $T/hex.tok $T/$f.tok || fail "$f tokens differ from the hex block's"; done
"$G" show --json --asm 'add rax, rbx' | grep -q '"num_nodes"' || fail "show --json --asm"

# as's error, naming the file and line; exit 1; nothing on stdout
printf 'add rax, rbx\nmov rcx, [rax+8]\nfrobnicate rcx\n' >$T/bad.s
if "$G" show --asm-file $T/bad.s >$T/out 2>$T/err; then fail "bad assembly accepted"; fi
grep -q "$T/bad.s:3: Error: .*frobnicate" $T/err || fail "as's error not passed on: $(cat $T/err)"
[ "$(wc -l <$T/err)" = 1 ] || fail "more than one error line: $(cat $T/err)"
[ -s $T/out ] && fail "output despite the error"
"$G" show --asm 'add rax, rbx' --att 2>$T/err && fail "Intel text as AT&T accepted"
grep -q -- "--asm:1: Error" $T/err || fail "AT&T error: $(cat $T/err)"
# no as on PATH: a clear error, exit 1
PATH= "$G" show --asm 'nop' 2>$T/err && fail "worked without as"
grep -q "GNU assembler \`as\` is not on PATH" $T/err || fail "no-as error: $(cat $T/err)"
# misuse
"$G" show --asm 'nop' $HEX 2>/dev/null; [ $? = 2 ] || fail "--asm with a hex block: not a usage error"
"$G" show --asm 'nop' --asm-file $T/b.s 2>/dev/null; [ $? = 2 ] || fail "--asm with --asm-file: not a usage error"
"$G" show --asm-file $T/missing.s 2>$T/err && fail "missing file accepted"
grep -q "$T/missing.s: cannot open" $T/err || fail "missing file error: $(cat $T/err)"

# predict: one block in three spellings gives one prediction
"$G" train --gematria_tokens_file=data/sample/vocab.txt --gematria_input_file=data/sample/sample.tfrecord \
  --gematria_max_blocks_in_batch=20 --gematria_training_num_epochs=2 --gematria_node_embedding_size=16 \
  --gematria_edge_embedding_size=16 --gematria_global_embedding_size=16 --gematria_node_update_layers=16 \
  --gematria_edge_update_layers=16 --gematria_global_update_layers=16 --gematria_task_readout_layers=16 \
  --gematria_num_message_passing_iterations=2 --gematria_checkpoint_dir=$T/m --gematria_save_summaries_epochs=0 \
  2>$T/train.err || fail "train: $(tail -1 $T/train.err)"
C=--gematria_checkpoint_file=$T/m/model.ckpt-2
a=$("$G" predict $C --hex $HEX) || fail "predict --hex"
b=$("$G" predict $C --asm 'add rax, rbx; imul rcx, rax') || fail "predict --asm"
c=$("$G" predict --gematria_checkpoint_dir=$T/m --att --asm-file /dev/stdin <<'S'
addq %rbx, %rax
imulq %rax, %rcx
S
) || fail "predict --att --asm-file (latest checkpoint of the dir)"
[ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" = "$c" ] || fail "predictions differ: hex '$a' asm '$b' att file '$c'"
"$G" predict $C --asm-file $T/bad.s 2>$T/err >/dev/null; [ $? = 1 ] || fail "predict: bad assembly exit status"
grep -q "$T/bad.s:3: Error" $T/err || fail "predict: as error: $(cat $T/err)"
"$G" predict --asm nop 2>$T/err; [ $? = 2 ] || fail "predict --asm without a checkpoint: not a usage error"
grep -q "checkpoint" $T/err || fail "no-checkpoint error: $(cat $T/err)"
"$G" predict $C --asm nop --hex 90 2>/dev/null; [ $? = 2 ] || fail "two blocks: not a usage error"
"$G" predict $C --hex 0f0 2>$T/err; [ $? = 1 ] || fail "odd hex: exit status"
"$G" predict $C --hex 0f0b0f 2>$T/err; [ $? = 1 ] || fail "undecodable hex: exit status"
grep -q "does not decode" $T/err || fail "undecodable hex error: $(cat $T/err)"
"$G" predict --help | grep -q -- "--asm-file" || fail "predict --help does not document --asm-file"

[ $FAILS = 0 ] && echo "e2e_asm: all passed"
exit $FAILS

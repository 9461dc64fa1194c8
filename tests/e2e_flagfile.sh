#!/bin/sh
# granite --flagfile=FILE through the binary: the Gematria form and a
# sub-command read flags from files, later flags override, and bad files give
# one error line naming FILE:LINE, exit 2 and write nothing. $1 = granite.
set -u
G=${1:?usage: e2e_flagfile.sh path/to/granite}
DATA=data/sample/sample.tfrecord
VOCAB=data/sample/vocab.txt
T=$(mktemp -d /tmp/granite_e2e_flagfile_XXXXXX)
trap 'rm -rf "$T"' EXIT
export OMP_WAIT_POLICY=passive
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }

# a sub-command: the file gives --output, the command line the input
printf '# the vocabulary of the sample\n\n--output=%s/a.txt\n' "$T" >$T/tokens.flags
"$G" tokens --flagfile=$T/tokens.flags $DATA 2>$T/tok.err || fail "tokens with a flag file: $(cat $T/tok.err)"
"$G" tokens --output=$T/b.txt $DATA 2>/dev/null
cmp -s $T/a.txt $T/b.txt || fail "tokens from a flag file differ from tokens with the same flags given directly"
# a flag after the file overrides it
"$G" tokens --flagfile $T/tokens.flags --output=$T/c.txt $DATA 2>/dev/null
[ -f $T/c.txt ] || fail "--output after --flagfile did not override the file's --output"

# the Gematria form, the whole training run from nested files
cat >$T/model.flags <<EOM
--gematria_node_embedding_size=8
--gematria_edge_embedding_size=8
--gematria_global_embedding_size=8
--gematria_num_message_passing_iterations=1
EOM
cat >$T/train.flags <<EOM
# tiny run
--gematria_action=train
--gematria_input_file=$DATA
--gematria_tokens_file=$VOCAB
--gematria_max_blocks_in_batch=10
--gematria_training_num_epochs=50
--flagfile=$T/model.flags
--gematria_log_interval_secs=0
EOM
"$G" --flagfile=$T/train.flags --gematria_checkpoint_dir=$T/ck --gematria_training_num_epochs=2 2>$T/train.err ||
  fail "training from a flag file: $(tail -2 $T/train.err)"
[ -f $T/ck/model.ckpt-2 ] || fail "the command line's --gematria_training_num_epochs=2 did not override the file's 50: $(ls $T/ck)"
grep -q "config.node_embedding_size=8" $T/ck/model.ckpt-2 || fail "the nested file's model flags were not used"

# bad files: one error line with FILE:LINE, exit 2, nothing written
bad() { # name, file text, expected error text
  printf -- "$2" >$T/$1
  "$G" tokens --flagfile=$T/$1 --output=$T/out_$1.txt $DATA 2>$T/$1.err
  rc=$?
  [ $rc -eq 2 ] || fail "$1: exit status $rc, want 2"
  [ "$(grep -c . $T/$1.err)" -eq 1 ] || fail "$1: want one error line, got: $(cat $T/$1.err)"
  grep -qF -- "$3" $T/$1.err || fail "$1: want '$3' in: $(cat $T/$1.err)"
  [ -e $T/out_$1.txt ] && fail "$1: the output was written despite the error"
}
bad unknown.flags '# x\n--outptu=v.txt\n' "$T/unknown.flags:2: tokens: unknown flag '--outptu'"
bad word.flags '\n\ndata.tfrecord\n' "$T/word.flags:3: expected a flag (--name=value), got 'data.tfrecord'"
bad space.flags '--output v.txt\n' "$T/space.flags:1: '--output v.txt': write --name=value on one line"
bad loop.flags "--flagfile=$T/loop.flags\n" "nested more than 8 deep"
bad hole.flags "--flagfile=$T/none.flags\n" "$T/hole.flags:1: --flagfile=$T/none.flags: cannot open"
"$G" --flagfile=$T/absent.flags 2>$T/absent.err
[ $? -eq 2 ] && grep -q "error: --flagfile=$T/absent.flags: cannot open" $T/absent.err ||
  fail "a missing flag file: $(cat $T/absent.err)"
printf -- '--gematria_learning_rate=fast\n' >$T/value.flags
"$G" train --flagfile=$T/value.flags 2>$T/value.err
[ $? -eq 2 ] && grep -q "error: $T/value.flags:1: --gematria_learning_rate=fast: expected a number" $T/value.err ||
  fail "a bad value in a flag file: $(cat $T/value.err)"

[ $FAILS -eq 0 ] && echo "e2e_flagfile: ok"
exit $FAILS

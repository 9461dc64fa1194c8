#!/bin/sh
# Writes granite(1) from the program's own --help texts, so the man page lists
# every command and flag group of the binary it is installed with.
# usage: gen-manpage.sh path/to/granite VERSION OUT.1
set -eu
G=$1 VERSION=$2 OUT=$3
# troff-safe verbatim text: backslashes, and lines starting with . or '
esc() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }
verbatim() { printf '.nf\n'; esc; printf '.fi\n'; }
TMP=$OUT.tmp
"$G" --help >"$TMP.top"
{
  printf '.TH GRANITE 1 "" "granite %s" "User Commands"\n' "$VERSION"
  printf '.SH NAME\ngranite \\- predict the throughput of x86-64 basic blocks with the GRANITE graph neural network\n'
  printf '.SH SYNOPSIS\n.B granite\n.I command\n[flags] [files]\n.br\n.B granite\n'
  printf '\\-\\-gematria_action=train|predict|eval [\\-\\-gematria_... flags]\n'
  printf '.SH DESCRIPTION\n'
  sed -n '/^granite predicts/,/^$/p' "$TMP.top" | esc
  printf '.PP\nEvery command prints its flags with \\fBgranite\\fR \\fIcommand\\fR \\fB\\-\\-help\\fR; they are listed below.\n'
  printf '.SH COMMANDS\n'
  sed -n '/^commands:/,$p' "$TMP.top" | sed 1d | while read -r name summary; do
    [ -n "$name" ] || continue
    printf '.TP\n.B %s\n%s\n' "$name" "$summary"
  done
  printf '.SH "FLAGS OF EACH COMMAND"\n'
  sed -n '/^commands:/,$p' "$TMP.top" | sed 1d | while read -r name summary; do
    [ -n "$name" ] || continue
    case $name in
      predict|eval)
        # the Gematria flags are train's; print only what the command adds
        "$G" train --help >"$TMP.train"
        "$G" "$name" --help >"$TMP.cmd"
        n=$(wc -l <"$TMP.train")
        printf '.SS "granite %s"\nTakes the flags of \\fBgranite train\\fR (above)' "$name"
        if [ "$(wc -l <"$TMP.cmd")" -gt "$n" ]; then
          printf ', and:\n'
          tail -n +$((n + 1)) "$TMP.cmd" | verbatim
        else
          printf '.\n'
        fi ;;
      *)
        printf '.SS "granite %s"\n' "$name"
        "$G" "$name" --help | verbatim ;;
    esac
  done
  printf '.SH ENVIRONMENT\n'
  printf '.TP\n.B OMP_NUM_THREADS\nthreads for training and prediction (default: all cores).\n'
  printf '.TP\n.B GRANITE_NO_AVX512\nset to 1: never use the AVX-512 kernels, even where the CPU has them.\n'
  printf '.TP\n.B GRANITE_NO_BLAS_REEXEC\nset to 1: do not re-execute with OPENBLAS_CORETYPE chosen for the CPU.\n'
  printf '.TP\n.B PATH\nwhere the GNU assembler \\fBas\\fR is looked up for \\-\\-asm and \\-\\-asm\\-file.\n'
  printf '.SH SEE ALSO\n.BR as (1),\n.BR pkg-config (1).\n'
  printf 'The library: \\fIgranite.h\\fR; install, Python and TensorBoard: docs/install.md.\n'
} >"$TMP"
rm -f "$TMP.top" "$TMP.train" "$TMP.cmd"
mv "$TMP" "$OUT"

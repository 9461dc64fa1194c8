#!/bin/sh
# `cmake --install` to a temporary prefix, then what an outside user does:
# every file in its place (versioned soname, only the API exported, man page
# listing every command and flag group), a C program built with pkg-config
# (shared and static) and a C++ program built with find_package(granite),
# each run and its prediction checked against `granite predict` on the same
# block; `import granite` from the prefix's Python directory finds its
# library by itself; the installed code has no AVX-512 outside the kernels
# chosen at run time. $1 = the granite binary in the build directory.
set -u
G=${1:?usage: e2e_install.sh path/to/build/granite}
case "$G" in /*) ;; *) G="$(pwd)/$G" ;; esac
B=$(dirname "$G")
S=$(pwd)
for tool in cmake pkg-config cc c++ as objdump; do
  command -v $tool >/dev/null || { echo "$tool not found: skipped"; exit 77; }
done
T=$(mktemp -d /tmp/granite_e2e_install_XXXXXX)
trap 'rm -rf "$T"' EXIT
export OMP_WAIT_POLICY=passive OMP_NUM_THREADS=1
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
P=$T/prefix

cmake --install "$B" --prefix "$P" >$T/install.log 2>&1 || { cat $T/install.log; echo "FAIL: cmake --install"; exit 1; }
V=$(sed -n 's/^#define GRANITE_VERSION_STRING "\(.*\)"/\1/p' include/granite.h)
MAJOR=${V%%.*}
LIB=$(cd $P && ls -d lib*/ | head -1); LIB=${LIB%/}
for f in bin/granite include/granite.h $LIB/libgranite.a $LIB/libgranite.so $LIB/libgranite.so.$MAJOR \
  $LIB/libgranite.so.$V $LIB/pkgconfig/granite.pc $LIB/cmake/granite/graniteConfig.cmake \
  $LIB/cmake/granite/graniteConfigVersion.cmake share/man/man1/granite.1 \
  lib/python3/dist-packages/granite/__init__.py; do
  [ -e "$P/$f" ] || fail "not installed: $f"
done
objdump -p "$P/$LIB/libgranite.so" | grep -q "SONAME *libgranite.so.$MAJOR\$" || fail "soname is not libgranite.so.$MAJOR"
# only the API of granite.h is exported
nm -D --defined-only "$P/$LIB/libgranite.so" | awk '$2 == "T" {print $3}' | sort >$T/exported
sed -n 's/^[a-z_ *]*[ *]\(granite_[a-z_]*\)(.*/\1/p' include/granite.h | sort -u >$T/declared
cmp -s $T/exported $T/declared || fail "exported symbols differ from granite.h: $(diff $T/declared $T/exported | tr '\n' ' ')"

# the man page: every command of `granite --help` and every flag group of `granite train --help`
MAN=$P/share/man/man1/granite.1
for c in $("$G" --help | sed -n '/^commands:/,$p' | sed 1d | awk '{print $1}'); do
  grep -q "^\.SS \"granite $c\"" $MAN || fail "man page lacks the command $c"
done
"$G" train --help | grep -E '^[A-Z][^ ].*:$' >$T/groups
[ -s $T/groups ] || fail "no flag groups found in granite train --help"
while read -r g; do grep -qF "$g" $MAN || fail "man page lacks the flag group '$g'"; done <$T/groups
grep -q -- "--asm-file" $MAN || fail "man page lacks predict's --asm-file"
if command -v man >/dev/null; then
  man -l $MAN >/dev/null 2>$T/man.err || fail "man cannot format granite.1"
  [ -s $T/man.err ] && fail "man warns: $(head -2 $T/man.err)"
fi

# a small model, trained by the installed program
"$P/bin/granite" train --gematria_tokens_file=data/sample/vocab.txt --gematria_input_file=data/sample/sample.tfrecord \
  --gematria_max_blocks_in_batch=20 --gematria_training_num_epochs=3 --gematria_node_embedding_size=16 \
  --gematria_edge_embedding_size=16 --gematria_global_embedding_size=16 --gematria_node_update_layers=16 \
  --gematria_edge_update_layers=16 --gematria_global_update_layers=16 --gematria_task_readout_layers=16 \
  --gematria_num_message_passing_iterations=2 --gematria_checkpoint_dir=$T/model --gematria_save_summaries_epochs=0 \
  2>$T/train.err || { fail "installed granite cannot train: $(tail -1 $T/train.err)"; exit 1; }
CKPT=$T/model/model.ckpt-3
HEX=4801d84889c1480fafc8   # add rax, rbx; mov rcx, rax; imul rcx, rax
ASM='add rax, rbx; mov rcx, rax; imul rcx, rax'
# the reference: `granite predict` over a .tfrecord holding the block
echo "$HEX,100" >$T/block.csv
"$P/bin/granite" import-bhive --quiet --output $T/block.tfrecord $T/block.csv || fail "import-bhive"
"$P/bin/granite" predict --gematria_checkpoint_file=$CKPT --gematria_input_file=$T/block.tfrecord \
  --gematria_output_file=$T/out.tfrecord --gematria_output_csv=$T/out.csv 2>$T/predict.err ||
  fail "granite predict: $(tail -1 $T/predict.err)"
WANT=$(cut -d, -f2 $T/out.csv)
[ -n "$WANT" ] || fail "no reference prediction"
same() { python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); sys.exit(abs(a - b) > 1e-5 * max(1, abs(b)))" "$1" "$2"; }

# C with pkg-config, shared library
export PKG_CONFIG_PATH=$P/$LIB/pkgconfig
[ "$(pkg-config --modversion granite)" = "$V" ] || fail "granite.pc version $(pkg-config --modversion granite), want $V"
# the header alone, strict C and C++
echo '#include <granite.h>' >$T/h.c
cc -std=c99 -pedantic -Wall -Wextra -Werror -fsyntax-only $(pkg-config --cflags granite) $T/h.c || fail "granite.h as C99"
c++ -std=c++11 -pedantic -Wall -Wextra -Werror -fsyntax-only $(pkg-config --cflags granite) -x c++ $T/h.c ||
  fail "granite.h as C++11"
cc -Wall -Wextra -Werror -o $T/consumer_pc tests/install/consumer.c $(pkg-config --cflags --libs granite) -lm \
  2>$T/cc.err || fail "pkg-config build: $(head -3 $T/cc.err)"
got=$(LD_LIBRARY_PATH=$P/$LIB $T/consumer_pc $CKPT $HEX "$ASM") || fail "pkg-config program failed"
same "$got" "$WANT" || fail "pkg-config program predicts $got, granite predict $WANT"
# C with pkg-config --static, libgranite.a
cc -o $T/consumer_static tests/install/consumer.c $(pkg-config --cflags granite) -L$P/$LIB -Wl,-Bstatic -lgranite \
  -Wl,-Bdynamic $(pkg-config --static --libs-only-l granite | sed 's/-lgranite//') -lm 2>$T/cc2.err ||
  fail "static build: $(head -3 $T/cc2.err)"
got=$(env -u LD_LIBRARY_PATH $T/consumer_static $CKPT $HEX "$ASM") || fail "static program failed"
same "$got" "$WANT" || fail "static program predicts $got, granite predict $WANT"
ldd $T/consumer_static | grep -q libgranite && fail "static program still needs libgranite.so"
# C++ with CMake find_package(granite)
cmake -S tests/install -B $T/cmake-build -DCMAKE_PREFIX_PATH=$P -DCMAKE_BUILD_TYPE=Release >$T/cmake.log 2>&1 &&
  cmake --build $T/cmake-build >>$T/cmake.log 2>&1 || fail "find_package build: $(tail -5 $T/cmake.log)"
got=$(env -u LD_LIBRARY_PATH $T/cmake-build/consumer $CKPT $HEX "$ASM") || fail "CMake program failed"
same "$got" "$WANT" || fail "CMake program predicts $got, granite predict $WANT"
# the version check of the CMake package refuses a newer major version
mkdir -p $T/v && printf 'cmake_minimum_required(VERSION 3.18)\nproject(v NONE)\nfind_package(granite %s REQUIRED)\n' \
  $((MAJOR + 1)) >$T/v/CMakeLists.txt
cmake -S $T/v -B $T/v/b -DCMAKE_PREFIX_PATH=$P >/dev/null 2>&1 && fail "find_package(granite $((MAJOR + 1))) accepted $V"
# the installed CLI gives the same prediction for the assembly and hex forms
got=$("$P/bin/granite" predict --gematria_checkpoint_file=$CKPT --asm "$ASM" 2>&1) || fail "predict --asm: $got"
same "$got" "$WANT" || fail "granite predict --asm gives $got, want $WANT"

# Python from the prefix, finding the installed libgranite.so by itself
if command -v python3 >/dev/null; then
  got=$(cd / && env -u LD_LIBRARY_PATH -u GRANITE_LIBRARY PYTHONPATH=$P/lib/python3/dist-packages python3 -c "
import granite, sys
assert granite.__file__.startswith('$P'), granite.__file__
assert granite.library_version() == '$V', granite.library_version()
print('%.6f' % granite.Model.load('$CKPT').predict('$HEX'))") || fail "installed Python module: $got"
  same "$got" "$WANT" || fail "Python predicts $got, granite predict $WANT"
fi

# portable code: AVX-512 instructions only in the kernels chosen at run time
objdump -d --no-show-raw-insn "$P/$LIB/libgranite.so" "$P/bin/granite" |
  awk '/^[0-9a-f]+ <.*>:$/ {fn = $2} /%zmm|%k[0-7]/ {print fn}' | sort -u >$T/zmm
grep -v -E '^<(fma_rate_avx512|[a-z0-9_]*avx512[a-z0-9_]*|[a-z0-9_]*bf16[a-z0-9_]*)(\.[a-z0-9.]*)?>:$' $T/zmm >$T/zmm_bad
[ -s $T/zmm_bad ] && fail "AVX-512 code outside the run-time dispatched kernels: $(tr '\n' ' ' <$T/zmm_bad)"
# and the forced AVX2 path predicts the same (within float rounding)
got=$(GRANITE_NO_AVX512=1 "$P/bin/granite" predict --gematria_checkpoint_file=$CKPT --hex $HEX 2>&1) ||
  fail "GRANITE_NO_AVX512=1 predict: $got"
python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); sys.exit(abs(a - b) > 1e-3 * max(1, abs(b)))" \
  "$got" "$WANT" || fail "AVX2 path predicts $got, default path $WANT"
got=$(GRANITE_NO_AVX2=1 "$P/bin/granite" predict --gematria_checkpoint_file=$CKPT --hex $HEX 2>&1) ||
  fail "GRANITE_NO_AVX2=1 predict: $got"
python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); sys.exit(abs(a - b) > 1e-3 * max(1, abs(b)))" \
  "$got" "$WANT" || fail "BLAS path predicts $got, default path $WANT"

[ $FAILS = 0 ] && echo "e2e_install: all passed"
exit $FAILS

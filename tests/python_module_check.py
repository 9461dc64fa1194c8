"""Checks of the Python module `granite` (run by tests/e2e_python.sh with plain
python3): argv = granite binary, checkpoint, scratch directory."""
import math
import os
import struct
import subprocess
import sys

import granite

G, CKPT, TMP = sys.argv[1:4]
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what)


def cli(*args):
    return subprocess.run([G, *args], check=True, capture_output=True, text=True).stdout


header = open("include/granite.h").read()
check('"%s"' % granite.library_version() in header, "library_version %s not the header's" % granite.library_version())

# canonicalize: the token lists `granite show` prints
HEX = "4801d8480fafc8"
toks = granite.canonicalize(HEX)
shown = [l.split("tokens:")[1].split() for l in cli("show", HEX).splitlines() if "tokens:" in l]
check(toks == shown, "canonicalize %r vs show %r" % (toks, shown))
check(toks[0] == ["ADD", "_D_", "RAX", "EFLAGS", "_D_", "RAX", "RBX", "_D_"], "ADD tokens %r" % toks[0])
check(granite.canonicalize(bytes.fromhex(HEX)) == toks, "canonicalize(bytes)")
long_block = "4801d8" * 400  # longer than the first buffer: the retry path
check(len(granite.canonicalize(long_block)) == 400, "long block")
for bad in ("4801d", "zz", "0f0b0f"):
    try:
        granite.canonicalize(bad)
        check(False, "canonicalize(%r) accepted" % bad)
    except granite.GraniteError as e:
        check(str(e), "empty error")

# assemble
check(granite.assemble("add rax, rbx; imul rcx, rax").hex() == HEX, "assemble intel")
check(granite.assemble("addq %rbx, %rax; imulq %rax, %rcx", att=True).hex() == HEX, "assemble att")
try:
    granite.assemble("nop\nfrobnicate rax")
    check(False, "bad assembly accepted")
except granite.GraniteError as e:
    check(":2: Error:" in str(e) and "frobnicate" in str(e), "assembler error %r" % str(e))

# prediction: the CLI's numbers
model = granite.Model.load(CKPT)
check(model.num_tasks == 1 and model.task_names == ["default"], "tasks %r" % model.task_names)
want = float(cli("predict", "--gematria_checkpoint_file=" + CKPT, "--hex", HEX))
got = model.predict(HEX)
check(isinstance(got, float) and abs(got - want) <= 1e-5 * max(1, abs(want)), "predict %r vs CLI %r" % (got, want))
check(model.predict(bytes.fromhex(HEX)) == got, "predict(bytes)")
check(model.predict_asm("add rax, rbx; imul rcx, rax") == got, "predict_asm")
check(model.predict_asm("addq %rbx, %rax; imulq %rax, %rcx", att=True) == got, "predict_asm att")
many = model.predict([HEX, "0f0b0f", bytes.fromhex("4801d8")])
values = [float(x) for x in many]
check(len(values) == 3, "batch length %d" % len(values))
check(abs(values[0] - got) <= 1e-4 * max(1, abs(got)), "batch[0] %r vs %r" % (values[0], got))
check(math.isnan(values[1]) and not math.isnan(values[2]), "undecodable block in a batch: %r" % values)
try:
    import numpy
    check(isinstance(many, numpy.ndarray) and many.shape == (3,), "NumPy present but no array: %r" % type(many))
except ImportError:
    check(isinstance(many, list), "without NumPy a list, got %r" % type(many))
check(len(model.predict([])) == 0, "empty batch")
for bad in ("0f0b0f", "", "xyz"):
    try:
        model.predict(bad)
        check(False, "predict(%r) accepted" % bad)
    except granite.GraniteError:
        pass
try:
    model.predict(42)
    check(False, "predict(int) accepted")
except TypeError:
    pass
model.close()
try:
    model.predict(HEX)
    check(False, "closed model predicted")
except granite.GraniteError:
    pass
with granite.Model.load(CKPT) as m2:
    check(m2.predict(HEX) == got, "context manager model")
try:
    granite.Model.load(os.path.join(TMP, "missing.ckpt"))
    check(False, "missing checkpoint loaded")
except granite.GraniteError as e:
    check("missing.ckpt" in str(e), "load error does not name the file: %r" % str(e))

# read_tfrecord: what import-bhive wrote, CRCs checked
csv = os.path.join(TMP, "b.csv")
rec = os.path.join(TMP, "b.tfrecord")
with open(csv, "w") as f:
    f.write("4801d8,123.5\n480fafc8,77\n")
cli("import-bhive", "--quiet", "--source", "mysource", "--output", rec, csv)
blocks = list(granite.read_tfrecord(rec))
check([b.hex for b in blocks] == ["4801d8", "480fafc8"], "hex %r" % [b.hex for b in blocks])
check([b.throughputs for b in blocks] == [{"mysource": [123.5]}, {"mysource": [77.0]}],
      "throughputs %r" % [b.throughputs for b in blocks])
check(blocks[0].assembly and "add" in blocks[0].assembly[0], "assembly %r" % blocks[0].assembly)
sample = list(granite.read_tfrecord("data/sample/sample.tfrecord"))
stats = cli("stats", "data/sample/sample.tfrecord")
check(str(len(sample)) in stats, "sample: %d records, stats says %s" % (len(sample), stats.splitlines()[:2]))
raw = bytearray(open(rec, "rb").read())
(n0,) = struct.unpack_from("<Q", raw, 0)
bad = bytearray(raw)
bad[12 + n0 + 16 + 3] ^= 1  # a payload byte of record 1
open(rec + ".bad", "wb").write(bad)
try:
    list(granite.read_tfrecord(rec + ".bad"))
    check(False, "corrupt record accepted")
except granite.TFRecordError as e:
    check("record 1" in str(e) and "CRC" in str(e), "corrupt error %r" % str(e))
open(rec + ".cut", "wb").write(raw[:-3])
try:
    list(granite.read_tfrecord(rec + ".cut"))
    check(False, "truncated file accepted")
except granite.TFRecordError as e:
    check("truncated" in str(e), "truncation error %r" % str(e))

print("python module: %s" % ("all passed" if not failures else "%d failures" % failures))
sys.exit(1 if failures else 0)

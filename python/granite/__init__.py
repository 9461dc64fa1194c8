"""granite from Python: load a GRANITE checkpoint, predict basic blocks.

    import granite
    model = granite.Model.load("model/model.ckpt-1000")
    model.predict("4829d38b44246c8b54246848c1fb034829d04839c3")  # -> float
    model.predict(["4829d3", bytes.fromhex("4801d8")])            # -> list / numpy array
    model.predict_asm("add rax, rbx; imul rcx, rax")
    granite.canonicalize("4829d3")   # -> [['SUB', '_D_', 'RBX', '_D_', 'RBX', 'RDX', '_D_']]
    for block in granite.read_tfrecord("data.tfrecord"): print(block.hex, block.throughputs)

A thin ctypes layer over libgranite.so (include/granite.h); read_tfrecord is
pure Python. The library is found, in this order, at $GRANITE_LIBRARY, next
to where `cmake --install` put this package, and by its soname.
"""
import ctypes
import os

from granite._tfrecord import Block, read_tfrecord, TFRecordError  # noqa: F401

try:  # NumPy is optional: lists of blocks then give NumPy arrays
    import numpy as _np
except ImportError:  # pragma: no cover - depends on the machine
    _np = None

__all__ = ["Model", "GraniteError", "canonicalize", "assemble", "read_tfrecord", "Block", "TFRecordError",
           "library_version"]

_SONAME = "libgranite.so.0"
_lib = None


class GraniteError(Exception):
    """A checkpoint, block or assembly the library refused, with its reason."""


def _candidates():
    env = os.environ.get("GRANITE_LIBRARY")
    if env:
        yield env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        from granite._install import LIBDIR  # written by cmake --install
        yield os.path.normpath(os.path.join(here, LIBDIR, _SONAME))
    except ImportError:
        pass
    yield _SONAME  # the dynamic loader's own search (ldconfig, LD_LIBRARY_PATH)


def _load():
    global _lib
    if _lib is not None:
        return _lib
    errors = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            errors.append("%s: no such file" % path)
            continue
        try:
            lib = ctypes.CDLL(path)
            break
        except OSError as e:
            errors.append(str(e))
    else:
        raise GraniteError("cannot load libgranite: " + "; ".join(errors) +
                           " (set GRANITE_LIBRARY=/path/to/libgranite.so.0)")
    c_float_p = ctypes.POINTER(ctypes.c_float)
    sigs = {
        "granite_version": (ctypes.c_char_p, []),
        "granite_load": (ctypes.c_void_p, [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t]),
        "granite_free": (None, [ctypes.c_void_p]),
        "granite_num_tasks": (ctypes.c_int, [ctypes.c_void_p]),
        "granite_task_name": (ctypes.c_char_p, [ctypes.c_void_p, ctypes.c_int]),
        "granite_predict_bytes": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, c_float_p]),
        "granite_predict_batch": (ctypes.c_int, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char_p),
                                                 ctypes.POINTER(ctypes.c_size_t), ctypes.c_int, c_float_p]),
        "granite_predict_asm": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, c_float_p,
                                               ctypes.c_char_p, ctypes.c_size_t]),
        "granite_assemble": (ctypes.c_int, [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p),
                                            ctypes.POINTER(ctypes.c_size_t), ctypes.c_char_p, ctypes.c_size_t]),
        "granite_buffer_free": (None, [ctypes.c_void_p]),
        "granite_canonicalize_hex": (ctypes.c_long, [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t,
                                                     ctypes.c_char_p, ctypes.c_size_t]),
        "granite_set_num_threads": (None, [ctypes.c_void_p, ctypes.c_int]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    _lib = lib
    return lib


def library_version():
    """The version of the loaded libgranite ("0.2.0")."""
    return _load().granite_version().decode()


def _code(block):
    """hex text or bytes -> bytes."""
    if isinstance(block, (bytes, bytearray, memoryview)):
        return bytes(block)
    if isinstance(block, str):
        try:
            return bytes.fromhex(block)
        except ValueError:
            raise GraniteError("not machine code in hex: %r" % block[:80]) from None
    raise TypeError("a block is hex text or bytes, not %s" % type(block).__name__)


def _syntax(att):
    return 1 if att else 0


def assemble(text, att=False):
    """Assembly text (Intel syntax, or AT&T with att=True) -> machine code bytes, by GNU as."""
    lib = _load()
    buf, size = ctypes.c_void_p(), ctypes.c_size_t()
    err = ctypes.create_string_buffer(1024)
    if lib.granite_assemble(text.encode(), _syntax(att), ctypes.byref(buf), ctypes.byref(size), err, len(err)):
        raise GraniteError(err.value.decode(errors="replace"))
    try:
        return ctypes.string_at(buf, size.value)
    finally:
        lib.granite_buffer_free(buf)


def canonicalize(block):
    """The canonical token list of each instruction of a block (hex or bytes), as Gematria builds them."""
    lib = _load()
    hextext = _code(block).hex().encode()
    err = ctypes.create_string_buffer(512)
    size = 4096
    while True:
        out = ctypes.create_string_buffer(size)
        n = lib.granite_canonicalize_hex(hextext, out, size, err, len(err))
        if n < 0:
            raise GraniteError(err.value.decode(errors="replace"))
        if n < size:
            return [line.split(" ") for line in out.value.decode().splitlines()]
        size = n + 1


class Model:
    """A loaded checkpoint. Not thread-safe: use one Model per thread."""

    def __init__(self, handle, path):
        self._handle = handle
        self.path = path
        lib = _load()
        self.num_tasks = lib.granite_num_tasks(handle)
        self.task_names = [lib.granite_task_name(handle, t).decode() for t in range(self.num_tasks)]

    @classmethod
    def load(cls, path):
        lib = _load()
        err = ctypes.create_string_buffer(1024)
        handle = lib.granite_load(os.fsencode(path), err, len(err))
        if not handle:
            raise GraniteError(err.value.decode(errors="replace"))
        return cls(handle, str(path))

    def close(self):
        if self._handle:
            _load().granite_free(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _check_open(self):
        if not self._handle:
            raise GraniteError("model %s is closed" % self.path)

    def set_num_threads(self, n):
        self._check_open()
        _load().granite_set_num_threads(self._handle, int(n))

    def _one(self, values):
        return values[0] if self.num_tasks == 1 else list(values)

    def predict(self, blocks):
        """One block (hex text or bytes) -> a float (a list of floats, one per task, for a
        multi-task model). A list of blocks -> a NumPy array [n] (or [n, tasks]) when NumPy
        is installed, else a list; blocks that do not decode give NaN."""
        self._check_open()
        lib = _load()
        T = self.num_tasks
        if isinstance(blocks, (str, bytes, bytearray, memoryview)):
            code = _code(blocks)
            out = (ctypes.c_float * T)()
            if lib.granite_predict_bytes(self._handle, code, len(code), out):
                raise GraniteError("block does not decode as x86-64 or is empty: %s" % code.hex()[:80])
            return self._one(list(out))
        codes = [_code(b) for b in blocks]
        n = len(codes)
        out = (ctypes.c_float * max(1, n * T))()
        if n:
            ptrs = (ctypes.c_char_p * n)(*codes)
            sizes = (ctypes.c_size_t * n)(*[len(c) for c in codes])
            lib.granite_predict_batch(self._handle, ptrs, sizes, n, out)  # failures are NaN rows
        values = list(out)[:n * T]
        if _np is not None:
            arr = _np.array(values, dtype=_np.float32)
            return arr if T == 1 else arr.reshape(n, T)
        return values if T == 1 else [values[i * T:(i + 1) * T] for i in range(n)]

    def predict_asm(self, text, att=False):
        """One block given as assembly text (Intel, or AT&T with att=True)."""
        self._check_open()
        lib = _load()
        out = (ctypes.c_float * self.num_tasks)()
        err = ctypes.create_string_buffer(1024)
        if lib.granite_predict_asm(self._handle, text.encode(), _syntax(att), out, err, len(err)):
            raise GraniteError(err.value.decode(errors="replace"))
        return self._one(list(out))

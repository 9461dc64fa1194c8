"""Pure-Python reading of Gematria's .tfrecord files (TFRecord framing of
BasicBlockWithThroughputProto), every CRC checked."""
import collections
import struct

Block = collections.namedtuple("Block", ["hex", "assembly", "throughputs"])
Block.__doc__ = """One record: hex = the block's machine code in hex, assembly = its
instructions' text, throughputs = {source: [inverse throughput cycles, ...]}."""


class TFRecordError(Exception):
    """A truncated or corrupt record, naming the file and the record index."""


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def _masked_crc(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    crc ^= 0xFFFFFFFF
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _fields(buf):
    """(field number, wire type, value) of a protobuf message; value is an int or bytes."""
    pos, n = 0, len(buf)

    def varint():
        nonlocal pos
        shift = value = 0
        while True:
            if pos >= n or shift > 63:
                raise ValueError("truncated varint")
            b = buf[pos]
            pos += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return value

    while pos < n:
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            yield field, wire, varint()
        elif wire == 1:
            if pos + 8 > n:
                raise ValueError("truncated fixed64")
            yield field, wire, buf[pos:pos + 8]
            pos += 8
        elif wire == 2:
            size = varint()
            if pos + size > n:
                raise ValueError("truncated length-delimited field")
            yield field, wire, buf[pos:pos + size]
            pos += size
        elif wire == 5:
            if pos + 4 > n:
                raise ValueError("truncated fixed32")
            yield field, wire, buf[pos:pos + 4]
            pos += 4
        else:
            raise ValueError("unknown wire type %d" % wire)


def _doubles(wire, value):
    if wire == 1:
        return [struct.unpack("<d", value)[0]]
    if wire == 2:  # packed
        return list(struct.unpack("<%dd" % (len(value) // 8), value[:len(value) // 8 * 8]))
    raise ValueError("a double field with wire type %d" % wire)


def _parse_block(payload):
    code, assembly, throughputs = bytearray(), [], {}
    for field, wire, value in _fields(payload):
        if field == 1 and wire == 2:  # basic_block
            for f2, w2, v2 in _fields(value):
                if f2 == 1 and w2 == 2:  # machine_instructions
                    for f3, w3, v3 in _fields(v2):
                        if f3 == 2 and w3 == 2:
                            assembly.append(bytes(v3).decode(errors="replace").strip())
                        elif f3 == 3 and w3 == 2:
                            code += v3
        elif field == 2 and wire == 2:  # inverse_throughputs
            source, cycles = "", []
            for f2, w2, v2 in _fields(value):
                if f2 == 1 and w2 == 2:
                    source = bytes(v2).decode(errors="replace")
                elif f2 == 2:
                    cycles += _doubles(w2, v2)
            throughputs.setdefault(source, []).extend(cycles)
    return Block(bytes(code).hex(), assembly, throughputs)


def read_records(path):
    """Yields the payload of every record of a TFRecord file, checking both CRCs."""
    with open(path, "rb") as f:
        index = 0
        while True:
            header = f.read(12)
            if not header:
                return
            if len(header) < 12:
                raise TFRecordError("%s: record %d: truncated length header" % (path, index))
            length, length_crc = struct.unpack("<QI", header)
            if _masked_crc(header[:8]) != length_crc:
                raise TFRecordError("%s: record %d: bad CRC of the length" % (path, index))
            payload = f.read(length)
            footer = f.read(4)
            if len(payload) < length or len(footer) < 4:
                raise TFRecordError("%s: record %d: truncated payload" % (path, index))
            if _masked_crc(payload) != struct.unpack("<I", footer)[0]:
                raise TFRecordError("%s: record %d: bad CRC of the payload" % (path, index))
            yield payload
            index += 1


def read_tfrecord(path):
    """Yields one Block per BasicBlockWithThroughputProto record of a .tfrecord file."""
    for index, payload in enumerate(read_records(path)):
        try:
            yield _parse_block(payload)
        except ValueError as e:
            raise TFRecordError("%s: record %d: not a BasicBlockWithThroughputProto (%s)" % (path, index, e)) from None

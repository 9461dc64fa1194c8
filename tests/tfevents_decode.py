#!/usr/bin/env python3
"""An independent reader of TensorBoard event files, for e2e_tensorboard.sh.

Written from the format rules only (TFRecord framing with masked CRC32C,
protobuf wire format, tensorflow.Event / Summary field numbers); it shares no
code with granite's writer or granite's Python module.

  tfevents_decode.py check EVENTS METRICS.jsonl EVERY TASK[,TASK...] RANKS
      checks the event file against the training's metrics.jsonl; exit 1 on a mismatch
  tfevents_decode.py steps EVENTS     prints the steps of the summary events
  tfevents_decode.py torn EVENTS      prints "whole=N torn=0|1" (a torn last record is skipped)
"""
import json
import math
import struct
import sys


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(data):
    c = crc32c(data)
    return ((c >> 15 | c << 17) + 0xA282EAD8) & 0xFFFFFFFF


def records(raw):
    """(payloads, torn): whole records; torn is True if the file ends inside a record."""
    out, pos = [], 0
    while pos < len(raw):
        if len(raw) - pos < 12:
            return out, True
        (n,) = struct.unpack_from("<Q", raw, pos)
        if struct.unpack_from("<I", raw, pos + 8)[0] != masked(raw[pos:pos + 8]):
            raise SystemExit("record %d: bad length CRC" % len(out))
        if len(raw) - pos < 12 + n + 4:
            return out, True
        payload = raw[pos + 12:pos + 12 + n]
        if struct.unpack_from("<I", raw, pos + 12 + n)[0] != masked(payload):
            raise SystemExit("record %d: bad payload CRC" % len(out))
        out.append(payload)
        pos += 16 + n
    return out, False


def fields(buf):
    pos = 0
    while pos < len(buf):
        key, pos = varint(buf, pos)
        num, wire = key >> 3, key & 7
        if wire == 0:
            val, pos = varint(buf, pos)
        elif wire == 1:
            val, pos = buf[pos:pos + 8], pos + 8
        elif wire == 5:
            val, pos = buf[pos:pos + 4], pos + 4
        elif wire == 2:
            size, pos = varint(buf, pos)
            val, pos = buf[pos:pos + size], pos + size
        else:
            raise SystemExit("wire type %d" % wire)
        if pos > len(buf):
            raise SystemExit("truncated field %d" % num)
        yield num, wire, val


def varint(buf, pos):
    shift = result = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def event(payload):
    """Event -> dict(wall_time, step, file_version, values{tag: float})."""
    e = {"wall_time": None, "step": 0, "file_version": None, "values": None}
    for num, wire, val in fields(payload):
        if num == 1 and wire == 1:
            e["wall_time"] = struct.unpack("<d", val)[0]
        elif num == 2 and wire == 0:
            e["step"] = val
        elif num == 3 and wire == 2:
            e["file_version"] = val.decode()
        elif num == 5 and wire == 2:
            e["values"] = {}
            for vnum, vwire, v in fields(val):
                assert vnum == 1 and vwire == 2, "Summary field %d" % vnum
                tag, simple = None, None
                for fnum, fwire, f in fields(v):
                    if fnum == 1 and fwire == 2:
                        tag = f.decode()
                    elif fnum == 2 and fwire == 5:
                        simple = struct.unpack("<f", f)[0]
                assert tag is not None and simple is not None, "Value without tag or simple_value"
                e["values"][tag] = simple
    return e


def load(path):
    with open(path, "rb") as f:
        payloads, torn = records(f.read())
    return [event(p) for p in payloads], torn


def close(a, b, tol=2e-6):
    return abs(a - b) <= tol * max(1.0, abs(b))


def check(path, jsonl, every, tasks, ranks):
    events, torn = load(path)
    errors = []
    if torn:
        errors.append("torn last record in a finished run")
    if not events or events[0]["file_version"] != "brain.Event:2":
        errors.append("first record is not the brain.Event:2 version event")
    train, valid = {}, {}
    for line in open(jsonl):
        r = json.loads(line)
        if "loss" in r:
            train[r["step"]] = r
        elif "validation" in r:
            valid[r["step"]] = r["validation"]
    summary_steps = []
    for e in events[1:]:
        vals = e["values"]
        if vals is None:
            errors.append("event at step %d has no summary" % e["step"])
            continue
        if not e["wall_time"] or abs(e["wall_time"] - events[0]["wall_time"]) > 3600:
            errors.append("step %d: wall_time %r" % (e["step"], e["wall_time"]))
        global_step = e["step"] + 1  # Gematria labels with the 0-based update index
        if "overall_loss" in vals:
            summary_steps.append(e["step"])
            if global_step % every:
                errors.append("summary at step %d, not a multiple of %d" % (global_step, every))
            want = ["learning_rate", "overall_loss", "blocks_per_sec"]
            for t in tasks:
                want += ["absolute_mse_" + t, "relative_mae_" + t, "relative_mse_" + t]
                want += ["absolute_error_%sp_%s" % (r, t) for r in ranks]
                want += ["absolute_percentage_error_%sp_%s" % (r, t) for r in ranks]
            missing = [w for w in want if w not in vals]
            if missing:
                errors.append("step %d: missing %s" % (e["step"], missing))
                continue
            rec = train.get(global_step)
            if rec is None:
                errors.append("no metrics.jsonl record for step %d" % global_step)
                continue
            if not close(vals["overall_loss"], rec["loss"]):
                errors.append("step %d: overall_loss %r, metrics.jsonl %r" % (e["step"], vals["overall_loss"], rec["loss"]))
            if not close(vals["learning_rate"], rec["lr"]):
                errors.append("step %d: learning_rate %r vs %r" % (e["step"], vals["learning_rate"], rec["lr"]))
            for i, t in enumerate(tasks):
                mae, mse = vals["relative_mae_" + t], vals["relative_mse_" + t]
                if not close(mae, rec["relative_mae"][i]):
                    errors.append("step %d: relative_mae_%s %r vs %r" % (e["step"], t, mae, rec["relative_mae"][i]))
                if mse < mae * mae * (1 - 1e-5):  # mean of squares >= square of mean
                    errors.append("step %d: relative_mse %r < relative_mae^2 %r" % (e["step"], mse, mae * mae))
                for kind in ("absolute_error_%sp_", "absolute_percentage_error_%sp_"):
                    seq = [vals[(kind % r) + t] for r in ranks]
                    if seq != sorted(seq) or seq[0] < 0:
                        errors.append("step %d: %s percentiles not ascending: %r" % (e["step"], kind, seq))
            if vals["blocks_per_sec"] <= 0:
                errors.append("step %d: blocks_per_sec %r" % (e["step"], vals["blocks_per_sec"]))
        if "validation_mape" in vals:
            v = valid.get(global_step)
            if v is None:
                errors.append("validation_mape at step %d but no validation in metrics.jsonl" % e["step"])
            else:
                maes = [x for x in v["relative_mae"] if x is not None]
                want = 100 * sum(maes) / len(maes)
                if not close(vals["validation_mape"], want, 1e-5):
                    errors.append("step %d: validation_mape %r vs %r" % (e["step"], vals["validation_mape"], want))
    expected = sorted(s - 1 for s in train if s % every == 0)
    if summary_steps != expected:
        errors.append("summary steps %r, expected %r" % (summary_steps, expected))
    for v in sorted(valid):
        if not any(e["values"] and "validation_mape" in e["values"] and e["step"] == v - 1 for e in events[1:]):
            errors.append("validation at step %d missing from the events" % v)
    for err in errors:
        print("FAIL:", err)
    print("%d events, %d summaries, %d validations checked" % (len(events), len(summary_steps), len(valid)))
    return 1 if errors else 0


def main(argv):
    if argv[1] == "check":
        return check(argv[2], argv[3], int(argv[4]), argv[5].split(","), argv[6].split(","))
    if argv[1] == "steps":
        events, _ = load(argv[2])
        print(" ".join(str(e["step"]) for e in events[1:] if e["values"] and "overall_loss" in e["values"]))
        return 0
    if argv[1] == "torn":
        with open(argv[2], "rb") as f:
            payloads, torn = records(f.read())
        for p in payloads:
            event(p)
        print("whole=%d torn=%d" % (len(payloads), int(torn)))
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))

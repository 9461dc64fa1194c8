#!/usr/bin/env python3
"""Compares `granite measure --csv` output with reference labels (a BHive CSV:
hex,cycles per 100 iterations) and, optionally, with a second measurement run
of the same blocks. Prints the tables of docs/measure.md. Standard library only.

usage: measure-compare.py MEASURED.csv REFERENCE.csv [SECOND_RUN.csv]
"""
import csv
import statistics
import sys
from collections import Counter


def read_measured(path):
    rows = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            rows[r["hex"]] = r
    return rows


def read_reference(path):
    ref = {}
    with open(path) as f:
        for line in f:
            parts = line.strip().split(",")
            if len(parts) >= 2:
                ref[parts[0].lower()] = float(parts[1])
    return ref


def kendall_tau_b(x, y):
    """Kendall's tau-b in O(n log n) (Knight 1966): sort by (x, y), then count
    the discordant pairs as the swaps of a merge sort on y. A quadratic loop takes
    minutes in Python on the 20,000 blocks of docs/measure.md."""
    n = len(x)
    pairs = sorted(zip(x, y))
    n0 = n * (n - 1) // 2

    def tied_pairs(keys):
        total = run = 0
        for i in range(1, len(keys) + 1):
            if i < len(keys) and keys[i] == keys[i - 1]:
                run += 1
            else:
                total += run * (run + 1) // 2
                run = 0
        return total

    ties_x = tied_pairs([p[0] for p in pairs])
    ties_xy = tied_pairs(pairs)
    ys = [p[1] for p in pairs]
    swaps = 0
    width = 1
    while width < n:  # bottom-up merge sort; a pair is discordant iff it is swapped
        merged = []
        for lo in range(0, n, 2 * width):
            a, b = ys[lo:lo + width], ys[lo + width:lo + 2 * width]
            i = j = 0
            while i < len(a) and j < len(b):
                if b[j] < a[i]:
                    merged.append(b[j])
                    swaps += len(a) - i
                    j += 1
                else:
                    merged.append(a[i])
                    i += 1
            merged.extend(a[i:])
            merged.extend(b[j:])
        ys = merged
        width *= 2
    ties_y = tied_pairs(ys)
    concordant_minus_discordant = n0 - ties_x - ties_y + ties_xy - 2 * swaps
    denom = ((n0 - ties_x) * (n0 - ties_y)) ** 0.5
    return concordant_minus_discordant / denom if denom else float("nan")


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(round(p * len(v) + 0.5)) - 1))]


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    measured = read_measured(sys.argv[1])
    ref = read_reference(sys.argv[2])
    status = Counter(r["status"] for r in measured.values())
    total = len(measured)
    print(f"blocks: {total}")
    print("\n| status | blocks | share |\n| --- | ---: | ---: |")
    for s, n in status.most_common():
        print(f"| {s} | {n} | {100 * n / total:.1f}% |")

    ok = [(h, r) for h, r in measured.items() if r["status"] == "ok" and h in ref]
    for key, name in (("cycles_per_100_iterations", "minimum"), ("cycles_per_100_iterations_median", "median")):
        meas = [float(r[key]) for _, r in ok]
        mca = [ref[h] for h, _ in ok]
        ape = [abs(a - m) / m for a, m in zip(mca, meas)]
        ratio = [a / m for a, m in zip(mca, meas)]
        print(f"\nmeasured ({name}) vs reference, {len(ok)} blocks: MAPE {100 * statistics.mean(ape):.1f}%, "
              f"median APE {100 * statistics.median(ape):.1f}%, p90 APE {100 * pct(ape, 0.9):.1f}%, "
              f"Kendall tau-b {kendall_tau_b(meas, mca):.3f}, median reference/measured {statistics.median(ratio):.3f}")
    spreads = [float(r["spread"]) for _, r in ok]
    print(f"\nwithin-run spread |median-min|/min: median {100 * statistics.median(spreads):.2f}%, "
          f"p90 {100 * pct(spreads, 0.9):.2f}%")

    worst = sorted(ok, key=lambda hr: -max(ref[hr[0]] / float(hr[1]["cycles_per_100_iterations"]),
                                          float(hr[1]["cycles_per_100_iterations"]) / ref[hr[0]]))[:12]
    print("\nworst disagreements (cycles per 100 iterations):\n| hex | measured | reference | ref/measured |\n"
          "| --- | ---: | ---: | ---: |")
    for h, r in worst:
        m = float(r["cycles_per_100_iterations"])
        print(f"| `{h}` | {m:.0f} | {ref[h]:.0f} | {ref[h] / m:.2f} |")

    if len(sys.argv) > 3:
        second = read_measured(sys.argv[3])
        both = [(float(r["cycles_per_100_iterations"]), float(second[h]["cycles_per_100_iterations"]))
                for h, r in measured.items()
                if r["status"] == "ok" and h in second and second[h]["status"] == "ok"]
        diff = [abs(a - b) / ((a + b) / 2) for a, b in both]
        same = sum(1 for h, r in measured.items() if h in second and r["status"] == second[h]["status"])
        print(f"\nrun to run ({len(both)} blocks measured in both runs): |a-b|/mean median {100 * statistics.median(diff):.2f}%, "
              f"p90 {100 * pct(diff, 0.9):.2f}%, max {100 * max(diff):.1f}%; same status in both runs: "
              f"{same}/{len(measured)}")


if __name__ == "__main__":
    main()

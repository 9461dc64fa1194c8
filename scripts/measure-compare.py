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
    n = len(x)
    concordant = discordant = ties_x = ties_y = 0
    for i in range(n):
        xi, yi = x[i], y[i]
        for j in range(i + 1, n):
            dx, dy = xi - x[j], yi - y[j]
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif (dx > 0) == (dy > 0):
                concordant += 1
            else:
                discordant += 1
    denom = ((concordant + discordant + ties_x) * (concordant + discordant + ties_y)) ** 0.5
    return (concordant - discordant) / denom if denom else float("nan")


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

#!/usr/bin/env python3
"""Summarise a sales CSV export by region and month."""
import argparse
import csv
import sys
from collections import defaultdict
from datetime import datetime


def parse_row(row):
    month = datetime.strptime(row["date"], "%Y-%m-%d").strftime("%Y-%m")
    amount = float(row["amount"])
    if amount < 0:
        raise ValueError(f"negative amount in row {row}")
    return row["region"].strip(), month, amount


def summarise(reader):
    totals = defaultdict(float)
    for row in reader:
        region, month, amount = parse_row(row)
        totals[(region, month)] += amount
    return dict(sorted(totals.items()))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("csv_file", type=argparse.FileType("r", encoding="utf-8"))
    parser.add_argument("--min", type=float, default=0.0, help="hide totals below this")
    args = parser.parse_args(argv)
    with args.csv_file as handle:
        totals = summarise(csv.DictReader(handle))
    writer = csv.writer(sys.stdout)
    writer.writerow(["region", "month", "total"])
    for (region, month), total in totals.items():
        if total >= args.min:
            writer.writerow([region, month, f"{total:.2f}"])
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Nightly backup of customer upload folders to the archive host."""
import argparse
import datetime
import logging
import os

log = logging.getLogger("backup")

ARCHIVE_HOST = "archive.internal"
ARCHIVE_ROOT = "/srv/archive"


def archive_name(customer):
    stamp = datetime.date.today().isoformat()
    return f"{customer}-{stamp}.tar.gz"


def backup(customer, source_dir):
    """Pack one customer's folder and copy it to the archive host."""
    name = archive_name(customer)
    log.info("packing %s", source_dir)
    status = os.system(f"tar czf /tmp/{name} -C {source_dir} .")
    if status != 0:
        raise RuntimeError(f"tar failed with status {status}")
    status = os.system("scp /tmp/" + name + " " + ARCHIVE_HOST + ":" + ARCHIVE_ROOT)
    if status != 0:
        raise RuntimeError(f"scp failed with status {status}")
    os.remove(f"/tmp/{name}")
    return name


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("customers", nargs="+", help="customer ids to back up")
    parser.add_argument("--root", default="/srv/uploads")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    for customer in args.customers:
        folder = os.path.join(args.root, customer)
        if not os.path.isdir(folder):
            log.warning("no folder for %s", customer)
            continue
        print(backup(customer, folder))


if __name__ == "__main__":
    main()

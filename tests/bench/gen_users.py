#!/usr/bin/env python3
"""gen_users.py: writes N seed-app users as the CSV `usermgr-admin import-legacy` reads.

Usage: tests/bench/gen_users.py N OUT.csv [--seed S]

The header is `username,email,password_sha256,verified` (docs/DATABASE.md "Legacy import").
Every row is valid and unique, so an import of the file imports N users. Row i (1-based) is
u0000001, u0000002, ... except about one in ten, which is `v` + a bucket 00-19 + the number
(v050000042), so a three-character prefix such as `v05` matches about 0.5 % of the users
(5 000 of a million, about 100 of 20 000: more than one page). The address is the username at
example.com; about 98 % are verified. The password of row i is `password-i` (its SHA-256 in
hex), so a test can log in as any imported user. The same N and seed give the same file, byte
for byte.
"""

import argparse
import hashlib
import random
import sys


def row(i, rng):
    """The seed-app row of user number i."""
    if rng.random() < 0.1:
        name = "v%02d%07d" % (rng.randrange(20), i)
    else:
        name = "u%07d" % i
    digest = hashlib.sha256(("password-%d" % i).encode()).hexdigest()
    verified = "1" if rng.random() < 0.98 else "0"
    return "%s,%s@example.com,%s,%s\n" % (name, name, digest, verified)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("n", type=int, help="how many users")
    p.add_argument("out", help="the CSV file to write")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    a = p.parse_args()
    if a.n < 0:
        p.error("N must be 0 or more")
    rng = random.Random(a.seed)
    with open(a.out, "w", encoding="ascii", newline="") as f:
        f.write("username,email,password_sha256,verified\n")
        for i in range(1, a.n + 1):
            f.write(row(i, rng))
    return 0


if __name__ == "__main__":
    sys.exit(main())

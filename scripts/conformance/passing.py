#!/usr/bin/env python3
"""The conformance ratchet's list: the tests that passed in every results.jsonl given.

Usage: scripts/conformance/passing.py RESULTS.jsonl [RESULTS.jsonl ...] > scripts/conformance/passing.txt

Ids are written without Tempest's attributes ("[id-...,smoke]"), one per line, sorted, prefixed
by their suite ("identity tempest.api.identity..."). Giving two or more runs keeps only the
tests that passed in all of them, so a test that passes by luck is not listed.
"""
import json
import sys


def passed(path):
    out = set()
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            if r.get('status') == 'success':
                out.add(f"{r['suite']} {r['id'].split('[')[0]}")
    return out


def main(paths):
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    common = passed(paths[0])
    for p in paths[1:]:
        common &= passed(p)
    print('# Tests of `npm run conformance` that pass and must keep passing (test/conformance-ratchet.test.ts).')
    print('# Regenerate from two runs: scripts/conformance/passing.py A/results.jsonl B/results.jsonl')
    for line in sorted(common):
        print(line)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/python3
"""Reads a subunit v2 stream (stdin) of one suite's run; prints its counts as one JSON object and
writes every test's id, status and, for failures and skips, the reason to RESULTS (JSON lines).

Usage: stestr last --subunit | summarize.py SUITE SECONDS RESULTS [LISTED]
LISTED is the suite's test list (`tempest run --list-tests`, one id a line). When a class's
setUpClass fails or skips, subunit has one record for the class and none for its tests; with
LISTED, each of those tests is counted (and written) with the class's status and reason, so
that the counts are per test whatever broke. Counts: passed (success), failed (fail), skipped
(skip), other (xfail and the like), not_run (listed, no result and no class record: a timeout),
class_errors (tearDownClass failures, after the tests had their results).
Runs with Debian's python3 and python3-subunit (a dependency of tempest's package).
"""
import json
import re
import sys

import subunit
import testtools

CLASS_RECORD = re.compile(r'^(setUpClass|tearDownClass) \((.+)\)$')


def bare(test_id):
    """Tempest's ids carry the idempotent id and tags: "x.y.test_z[id-...,smoke]"."""
    return test_id.split('[', 1)[0]


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit('usage: summarize.py SUITE SECONDS RESULTS [LISTED]')
    suite, seconds, results_path = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    listed = []
    if len(sys.argv) == 5:
        with open(sys.argv[4]) as f:
            listed = [line.strip() for line in f if line.strip()]
    records = []

    def on_test(t):
        reason = None
        if t['status'] in ('fail', 'skip'):
            details = t['details']
            key = 'traceback' if 'traceback' in details else ('reason' if 'reason' in details else None)
            if key:
                # The end of a traceback says what broke; keep the file bounded.
                reason = details[key].as_text()[-3000:]
        records.append({'id': t['id'], 'status': t['status'], 'reason': reason})

    stream = subunit.ByteStreamToStreamResult(sys.stdin.buffer, non_subunit_name='stdout')
    result = testtools.StreamToDict(on_test)
    result.startTestRun()
    try:
        stream.run(result)
    finally:
        result.stopTestRun()

    tests = []
    class_setup = {}
    class_errors = 0
    for r in records:
        m = CLASS_RECORD.match(r['id'])
        if not m:
            tests.append(r)
        elif m.group(1) == 'setUpClass':
            class_setup[m.group(2)] = r
        elif r['status'] == 'fail':
            class_errors += 1
            tests.append({**r, 'status': 'class_error'})
    seen = {bare(t['id']) for t in tests}
    expanded = set()
    not_run = 0
    for test_id in listed:
        if bare(test_id) in seen:
            continue
        cls = bare(test_id).rsplit('.', 1)[0]
        rec = class_setup.get(cls)
        if rec and rec['status'] in ('fail', 'skip'):
            tests.append({'id': test_id, 'status': rec['status'], 'reason': rec['reason'], 'via': rec['id']})
            expanded.add(cls)
        else:
            not_run += 1
            tests.append({'id': test_id, 'status': 'not_run', 'reason': None})
    # A class record none of whose tests were listed (no list given) counts once, as itself.
    for cls, rec in class_setup.items():
        if cls not in expanded and rec['status'] in ('fail', 'skip'):
            tests.append(rec)

    counts = {'passed': 0, 'failed': 0, 'skipped': 0, 'other': 0}
    for t in tests:
        if t['status'] in ('class_error', 'not_run'):
            continue
        counts[{'success': 'passed', 'fail': 'failed', 'skip': 'skipped'}.get(t['status'], 'other')] += 1
    with open(results_path, 'w') as f:
        for t in tests:
            f.write(json.dumps({'suite': suite, **t}) + '\n')
    print(json.dumps({'suite': suite, **counts, 'not_run': not_run, 'class_errors': class_errors,
                      'seconds': round(seconds, 1)}))


if __name__ == '__main__':
    main()

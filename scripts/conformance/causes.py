#!/usr/bin/python3
"""Groups a conformance run's failures (results.jsonl, from summarize.py) by cause.

Usage: causes.py RESULTS [TOP]
The cause of a failure is the last line of its traceback (where Tempest states the HTTP status
and the service's message, or the assertion), with ids and numbers blanked so that the same
defect on different objects falls in one group. Prints, per group: count, suites, cause, and one
sample test id; skips are grouped the same way by reason.
"""
import collections
import json
import re
import sys

ID = re.compile(r'[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}|[0-9a-f]{32}')
NUM = re.compile(r'\b(?![1-5]\d\d\b)\d+(\.\d+)?\b')  # HTTP statuses stay


EXC = re.compile(r'^[A-Za-z_][\w.]*(Error|Exception|Mismatch\w*|NotFound|BadRequest|Conflict|Forbidden|Unauthorized|ServerFault|Failure)\b:?')
MESSAGE = re.compile(r'"message": "([^"]*)"')


def cause(reason):
    lines = [x.strip() for x in (reason or '').strip().splitlines() if x.strip()]
    if not lines:
        return '(no reason recorded)'
    last = lines[-1]
    # Tempest's REST errors end "Details: {...}"; their first line names the exception.
    if last.startswith('Details:') and len(lines) > 1:
        last = lines[-2].split(':', 1)[0] + ' ' + last
    else:
        # Gabbi's failures end with the response body: the cause is the assertion above it,
        # plus the service's message if the body has one.
        at = next((i for i in range(len(lines) - 1, -1, -1) if EXC.match(lines[i])), None)
        if at is not None and at < len(lines) - 1:
            m = MESSAGE.search('\n'.join(lines[at + 1:]))
            last = lines[at] + (' ' + m.group(1) if m else '')
    return NUM.sub('N', ID.sub('ID', last))[:240]


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit('usage: causes.py RESULTS [TOP]')
    top = int(sys.argv[2]) if len(sys.argv) == 3 else 25
    groups = {'fail': collections.OrderedDict(), 'skip': collections.OrderedDict()}
    with open(sys.argv[1]) as f:
        for line in f:
            t = json.loads(line)
            if t['status'] == 'class_error':  # a tearDownClass failure: a failure of its own
                t['status'] = 'fail'
            if t['status'] not in groups:
                continue
            g = groups[t['status']].setdefault(cause(t['reason']), {'n': 0, 'suites': set(), 'sample': t['id']})
            g['n'] += 1
            g['suites'].add(t['suite'])
    for status, title in (('fail', 'failures'), ('skip', 'skips')):
        items = sorted(groups[status].items(), key=lambda kv: -kv[1]['n'])
        print(f'== {title}: {sum(g["n"] for _, g in items)} in {len(items)} groups (top {top})')
        for c, g in items[:top]:
            print(f'{g["n"]:4} [{",".join(sorted(g["suites"]))}] {c}\n       e.g. {g["sample"][:200]}')


if __name__ == '__main__':
    main()

// Asserts that lines matching each pattern appear in `events` in the given order (others may be
// between them): how the boot timeline tests check a node's history.
import assert from 'node:assert/strict';

export function assertInOrder(events: string[], order: RegExp[]): void {
  let at = 0;
  for (const re of order) {
    const i = events.findIndex((e, k) => k >= at && re.test(e));
    assert.ok(i >= 0, `${re} not found after position ${at} in:\n${events.join('\n')}`);
    at = i + 1;
  }
}

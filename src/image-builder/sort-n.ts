// `LANG=C sort -n` as diskimage-builder's dib-run-parts uses it to order hooks and environment
// files: compare by the leading number (optional blanks, optional '-', digits, optional '.'
// fraction; no number counts as 0), and when the numbers tie, by the whole name byte by byte.

interface NumKey {
  negative: boolean;
  int: string; // without leading zeros
  frac: string; // without trailing zeros
}

function numericKey(s: string): NumKey {
  let i = 0;
  while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  let negative = false;
  if (s[i] === '-') {
    negative = true;
    i++;
  }
  let int = '';
  while (i < s.length && s[i]! >= '0' && s[i]! <= '9') int += s[i++];
  let frac = '';
  if (s[i] === '.') {
    i++;
    while (i < s.length && s[i]! >= '0' && s[i]! <= '9') frac += s[i++];
  }
  int = int.replace(/^0+/, '');
  frac = frac.replace(/0+$/, '');
  // "-" without digits, or "-0", is zero: the sign only matters for a non-zero value.
  if (int === '' && frac === '') negative = false;
  return { negative, int, frac };
}

function compareMagnitude(a: NumKey, b: NumKey): number {
  if (a.int.length !== b.int.length) return a.int.length < b.int.length ? -1 : 1;
  if (a.int !== b.int) return a.int < b.int ? -1 : 1;
  if (a.frac !== b.frac) return a.frac < b.frac ? -1 : 1; // digit strings: lexical = numeric
  return 0;
}

function compareBytes(a: string, b: string): number {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return Buffer.compare(ab, bb);
}

/** Comparator with the ordering of `LANG=C sort -n` (GNU coreutils, including its last-resort compare). */
export function compareSortN(a: string, b: string): number {
  const ka = numericKey(a);
  const kb = numericKey(b);
  let c: number;
  if (ka.negative !== kb.negative) c = ka.negative ? -1 : 1;
  else {
    c = compareMagnitude(ka, kb);
    if (ka.negative) c = -c;
  }
  return c !== 0 ? c : compareBytes(a, b);
}

export function sortN(names: readonly string[]): string[] {
  return [...names].sort(compareSortN);
}

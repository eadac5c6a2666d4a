// The one way a regular expression written by a user (allowed_pattern) is compiled and run.
// JavaScript's RegExp backtracks: "(a|a)*" against 30 characters runs for minutes, and no filter
// of "dangerous" patterns is complete. RE2 (re2js, pure JavaScript) matches in time linear in
// the input; what it cannot do (backreferences, lookaround) is refused. Compiling and matching
// still grow with the program size, so both are charged to a per-request budget.
import { RE2JS } from 're2js';
import { MAX_PATTERN_LENGTH, MAX_PATTERN_PROGRAM, MAX_PATTERN_WORK } from './limits.js';

/** A pattern that cannot be used; the message says why (the caller adds where). */
export class PatternError extends Error {}

/** Work spent on patterns by one request; see MAX_PATTERN_WORK. */
export class PatternBudget {
  private spent = 0;
  /** Patterns already paid for: a request compiles each pattern once. */
  readonly compiled = new Set<string>();
  constructor(private readonly limit = MAX_PATTERN_WORK) {}

  charge(units: number, what: string): void {
    this.spent += units;
    if (this.spent > this.limit) {
      throw new PatternError(`${what} is more pattern matching than one request may do (${MAX_PATTERN_WORK.toLocaleString('en')} work units); use a simpler pattern or shorter values`);
    }
  }
}

const COMPILE_COST = 10_000;
const MATCH_COST = 20;
const PER_CHAR = 50;

export interface UserPattern {
  readonly source: string;
  /** Heat's test: re.match(pattern, value) matched, and up to the end of the value. */
  matchesWhole(value: string, budget: PatternBudget): boolean;
}

const cache = new Map<string, { re: RE2JS; size: number }>();

/** Compiles a user's pattern with Python `re` syntax, as far as RE2 shares it. */
export function compileUserPattern(source: string, budget: PatternBudget): UserPattern {
  if (source.length > MAX_PATTERN_LENGTH) throw new PatternError(`the pattern is longer than ${MAX_PATTERN_LENGTH} characters`);
  // Compiling itself grows with the program, so its size is bounded from the text first.
  const bound = programSizeBound(source);
  if (bound > MAX_PATTERN_PROGRAM) throw new PatternError(`the pattern is too large: its repeats expand to about ${bound} steps, more than ${MAX_PATTERN_PROGRAM}`);
  if (!budget.compiled.has(source)) budget.charge(bound * COMPILE_COST, 'compiling the pattern');
  budget.compiled.add(source);
  let hit = cache.get(source);
  if (!hit) {
    let re: RE2JS;
    try {
      // Python's \Z (end of text) is RE2's \z.
      re = RE2JS.compile(source.replace(/(?<!\\)((?:\\\\)*)\\Z/g, '$1\\z'));
    } catch (err) {
      const why = (err as Error).message.replace(/^error parsing regexp: /, '');
      const unsupported = /\(\?[=!<]|\\[1-9]/.test(source) ? ' (lookahead, lookbehind and backreferences need a backtracking matcher, which would let one pattern stall the server)' : '';
      throw new PatternError(`the pattern cannot be used: ${why}${unsupported}`, { cause: err });
    }
    const size = (re.re2().prog as { inst: unknown[] }).inst.length;
    if (size > MAX_PATTERN_PROGRAM) throw new PatternError(`the pattern is too large: it compiles to ${size} steps, more than ${MAX_PATTERN_PROGRAM}`);
    hit = { re, size };
    // A small cache: TripleO templates repeat the same few patterns in many files.
    if (cache.size >= 256) cache.delete(cache.keys().next().value!);
    cache.set(source, hit);
  }
  const { re, size } = hit;
  return {
    source,
    matchesWhole(value, b) {
      b.charge(value.length * (size + PER_CHAR) * MATCH_COST, `matching a ${value.length}-character value against the pattern`);
      const m = re.matcher(value);
      return m.lookingAt() && m.end() === value.length;
    },
  };
}

/**
 * An upper bound of the RE2 program size, from the pattern text: every atom is a step, a group
 * is its content plus two, and a {n,m} repeat copies what it repeats m times.
 * Escapes and classes count as one atom; a class or escape of the wrong shape only makes the
 * bound larger, and the compiler refuses it anyway.
 */
export function programSizeBound(p: string): number {
  const stack: { total: number; last: number }[] = [{ total: 0, last: 0 }];
  const top = () => stack[stack.length - 1]!;
  const atom = (n: number) => {
    top().total += n;
    top().last = n;
  };
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '\\') {
      i++;
      // \p{Greek}, \x{263a}: the braces belong to the escape.
      if (p[i + 1] === '{' && /[pPx]/.test(p[i] ?? '')) i = Math.max(i, p.indexOf('}', i));
      atom(1);
    } else if (c === '[') {
      let j = i + 1;
      if (p[j] === '^') j++;
      if (p[j] === ']') j++;
      for (; j < p.length && p[j] !== ']'; j++) if (p[j] === '\\') j++;
      i = j;
      atom(1);
    } else if (c === '(') {
      stack.push({ total: 0, last: 0 });
      // "(?:", "(?i", "(?P<name>": the group's prefix is no atom.
      const prefix = /^\(\?(?:P?<[^>]*>|[a-zA-Z-]*:?)/.exec(p.slice(i, i + 100));
      if (prefix) i += prefix[0].length - 1;
    } else if (c === ')' && stack.length > 1) {
      const g = stack.pop()!;
      atom(g.total + 2);
    } else if (c === '|') {
      top().total += 1;
      top().last = 0;
    } else if (c === '*' || c === '+' || c === '?') {
      top().total += 1;
    } else if (c === '{') {
      const m = /^\{(\d+)(?:(,)(\d*))?\}/.exec(p.slice(i));
      if (!m) {
        atom(1);
        continue;
      }
      // x{n,m}: n copies of x, then m-n optional copies (one split each); x{n,}: one loop split.
      const min = Number(m[1]);
      const max = m[2] ? (m[3] ? Number(m[3]) : min + 1) : min;
      const k = Math.max(max, 1);
      const t = top();
      t.total += t.last * (k - 1) + (max - min);
      t.last *= k;
      i += m[0].length - 1;
    } else atom(1);
  }
  while (stack.length > 1) atom(stack.pop()!.total + 2);
  // The program's own start, match and unanchored-search steps.
  return top().total + 5;
}

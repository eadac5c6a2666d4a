// Command-line parsing that accepts what Python's argparse accepts, because element scripts call
// these tools with the originals' flags: long-option prefixes (--temp for --templates),
// --opt=value, -oVALUE, options taking several values (-m a b) where a repeat replaces the earlier
// list, and exit status 2 with a usage line on a bad command line.

export type OptionKind = 'flag' | 'one' | 'many' | 'count' | 'append' | 'negflag';

export interface OptionSpec {
  names: string[];
  dest: string;
  kind: OptionKind;
  help?: string;
  metavar?: string;
}

export type ParsedArgs = Record<string, string | string[] | boolean | number | undefined> & { _?: string[] };

/** A bad command line: print the usage and `message`, exit 2 (argparse's convention). */
export class UsageError extends Error {}

/** --help was asked for. */
export class HelpRequested extends Error {}

function looksLikeOption(arg: string): boolean {
  return arg.startsWith('-') && arg.length > 1 && !/^-\d+$|^-\d*\.\d+$/.test(arg);
}

/**
 * kind: flag (true), negflag (false: oslo's --noX), count, one value, many values (a repeat
 * replaces), append (a repeat adds). With `positionals`, bare words are collected in `_`.
 */
export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[], positionals = false): ParsedArgs {
  const out: ParsedArgs = {};
  const longs = new Map<string, OptionSpec>();
  const shorts = new Map<string, OptionSpec>();
  for (const s of specs) for (const n of s.names) (n.startsWith('--') ? longs : shorts).set(n, s);
  const take = (spec: OptionSpec, name: string, inline: string | undefined, i: number): number => {
    if (spec.kind === 'flag' || spec.kind === 'count' || spec.kind === 'negflag') {
      if (inline !== undefined) throw new UsageError(`argument ${name}: ignored explicit argument '${inline}'`);
      out[spec.dest] = spec.kind === 'count' ? ((out[spec.dest] as number | undefined) ?? 0) + 1 : spec.kind === 'flag';
      return i;
    }
    if (spec.kind === 'append') {
      const value = inline ?? argv[i + 1];
      if (value === undefined || (inline === undefined && looksLikeOption(value))) throw new UsageError(`argument ${spec.names.join('/')}: expected one argument`);
      out[spec.dest] = [...((out[spec.dest] as string[] | undefined) ?? []), value];
      return inline === undefined ? i + 1 : i;
    }
    if (inline !== undefined) {
      out[spec.dest] = spec.kind === 'many' ? [inline] : inline;
      return i;
    }
    if (spec.kind === 'one') {
      const next = argv[i + 1];
      if (next === undefined || looksLikeOption(next)) throw new UsageError(`argument ${spec.names.join('/')}: expected one argument`);
      out[spec.dest] = next;
      return i + 1;
    }
    const values: string[] = [];
    while (i + 1 < argv.length && !looksLikeOption(argv[i + 1] as string) && argv[i + 1] !== '--') values.push(argv[++i] as string);
    out[spec.dest] = values;
    return i;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '-h' || arg === '--help') throw new HelpRequested();
    if (arg.startsWith('--') && arg.length > 2) {
      const eq = arg.indexOf('=');
      const name = eq >= 0 ? arg.slice(0, eq) : arg;
      const inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
      let spec = longs.get(name);
      if (!spec) {
        const candidates = [...longs.keys()].filter((l) => l.startsWith(name));
        if (candidates.length > 1) throw new UsageError(`ambiguous option: ${name} could match ${candidates.join(', ')}`);
        spec = candidates.length === 1 ? longs.get(candidates[0] as string) : undefined;
      }
      if (!spec) throw new UsageError(`unrecognized arguments: ${arg}`);
      i = take(spec, name, inline, i);
    } else if (looksLikeOption(arg)) {
      const spec = shorts.get(arg.slice(0, 2));
      if (!spec) throw new UsageError(`unrecognized arguments: ${arg}`);
      if (arg.length === 2) {
        i = take(spec, arg, undefined, i);
      } else if (spec.kind === 'flag' || spec.kind === 'count') {
        // -vv or combined short flags: each letter must be a flag.
        for (const letter of arg.slice(1)) {
          const s = shorts.get(`-${letter}`);
          if (!s || (s.kind !== 'flag' && s.kind !== 'count')) throw new UsageError(`unrecognized arguments: ${arg}`);
          take(s, `-${letter}`, undefined, i);
        }
      } else {
        i = take(spec, arg.slice(0, 2), arg.slice(2).replace(/^=/, ''), i);
      }
    } else if (positionals) {
      out._ = [...(out._ ?? []), arg];
    } else {
      throw new UsageError(`unrecognized arguments: ${arg}`);
    }
  }
  return out;
}

export function usage(prog: string, specs: readonly OptionSpec[], description: string): string {
  const lines = [`usage: ${prog} [options]`, '', description, '', 'options:', '  -h, --help            show this help message and exit'];
  for (const s of specs) {
    const meta = s.kind === 'flag' || s.kind === 'count' || s.kind === 'negflag' ? '' : ` ${s.metavar ?? s.dest.toUpperCase()}`;
    lines.push(`  ${s.names.map((n) => n + meta).join(', ')}`.padEnd(24) + (s.help ?? ''));
  }
  return lines.join('\n') + '\n';
}

/**
 * Parses a tool's command line; on --help prints the usage (exit 0), on a bad command line the
 * argparse-style error (exit 2). Returns the parsed options, or the exit status to return.
 */
export function parseCommandLine(
  argv: readonly string[],
  specs: readonly OptionSpec[],
  io: { stdout: (s: string) => void; stderr: (s: string) => void },
  prog: string,
  description: string,
): ParsedArgs | number {
  try {
    return parseArgs(argv, specs);
  } catch (err) {
    if (err instanceof HelpRequested) {
      io.stdout(usage(prog, specs, description));
      return 0;
    }
    if (err instanceof UsageError) {
      io.stderr(`usage: ${prog} [options]\n${prog}: error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

// Output the way the openstack CLI does it: -f table|json|yaml|value, and errors on stderr.
import { stringify } from 'yaml';
import { BootstackError } from '../common/errors.js';

export type OutputFormat = 'table' | 'json' | 'yaml' | 'value';
export const OUTPUT_FORMATS: OutputFormat[] = ['table', 'json', 'yaml', 'value'];

export function parseFormat(value: string): OutputFormat {
  if ((OUTPUT_FORMATS as string[]).includes(value)) return value as OutputFormat;
  throw new BootstackError(2, 'bad_option', `-f/--format must be one of ${OUTPUT_FORMATS.join(', ')}; got "${value}"`);
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** A list of rows with the given columns. */
export function formatList(rows: Array<Record<string, unknown>>, columns: string[], format: OutputFormat): string {
  if (format === 'json') return JSON.stringify(rows.map((r) => pick(r, columns)), null, 2);
  if (format === 'yaml') return stringify(rows.map((r) => pick(r, columns))).trimEnd();
  if (format === 'value') return rows.map((r) => columns.map((c) => cell(r[c])).join(' ')).join('\n');
  return table([columns, ...rows.map((r) => columns.map((c) => cell(r[c])))]);
}

/** One object shown as Field/Value pairs. */
export function formatShow(obj: Record<string, unknown>, format: OutputFormat): string {
  if (format === 'json') return JSON.stringify(obj, null, 2);
  if (format === 'yaml') return stringify(obj).trimEnd();
  if (format === 'value') return Object.values(obj).map(cell).join('\n');
  return table([['Field', 'Value'], ...Object.entries(obj).map(([k, v]) => [k, cell(v)])]);
}

function pick(r: Record<string, unknown>, columns: string[]): Record<string, unknown> {
  return Object.fromEntries(columns.map((c) => [c, r[c] ?? null]));
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = '+' + widths.map((w) => '-'.repeat(w + 2)).join('+') + '+';
  const fmt = (r: string[]) => '| ' + r.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
  return [line, fmt(rows[0]!), line, ...rows.slice(1).map(fmt), line].join('\n');
}

/** Prints an error for a person and returns the exit code to use. */
export function reportCliError(err: unknown): number {
  if (err instanceof BootstackError) {
    process.stderr.write(`bootstack: ${err.message}\n`);
    return err.status === 2 ? 2 : 1;
  }
  process.stderr.write(`bootstack: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return 1;
}

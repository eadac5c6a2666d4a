// --type validation for --key. Patterns behave as Python's re.match: anchored at the start only by
// the pattern's own ^, and a final $ also matches before one trailing newline.
export const VALUE_TYPES: Record<string, RegExp> = {
  int: /^[0-9]+(?=\n?$)/,
  default: /^[A-Za-z0-9_]*(?=\n?$)/,
  netaddress: /^[A-Za-z0-9/.:-]*(?=\n?$)/,
  netdevice: /^[A-Za-z0-9/.:-]*(?=\n?$)/,
  // driver://[user[:password]][@host or file][/dbname][?variable=value]
  dsn: /^[a-zA-Z0-9]+:\/\/([a-zA-Z0-9+_-]+(:[^@]+)?)?(@?[a-zA-Z0-9/_.-]+)?(\/[a-zA-Z0-9_-]+)?(\?[a-zA-Z0-9=_-]+)?(?=\n?$)/,
  swiftdevices: /^(r\d+z\d+-[A-Za-z0-9.-_]+:%PORT%\/[^,]+,?)+(?=\n?$)/,
  username: /^[A-Za-z0-9_-]+(?=\n?$)/,
  raw: /^/,
};

export class UnknownTypeError extends Error {}

/** True when `value` (Python's str() of the metadata value) is acceptable as `type`. */
export function matchesType(value: string, type: string): boolean {
  const re = VALUE_TYPES[type];
  if (!re) throw new UnknownTypeError(`requested validation of unknown type: ${type}`);
  return re.test(value);
}

// A collector either has nothing configured (skipped quietly) or cannot reach its source right now
// (skipped with a warning; the last good data stays in the cache).
export class SourceNotConfigured extends Error {}
export class SourceNotAvailable extends Error {}

// Trait names, as Ironic (and placement) accept them: a custom trait CUSTOM_[A-Z0-9_]+ or a
// standard one from os-traits, at most 255 characters. The os-traits list itself is not shipped
// here; a standard trait is recognised by its namespace (COMPUTE_, HW_, MISC_, OWNER_, STORAGE_).
import { ValidationError } from '../common/errors.js';

const TRAIT_RE = /^(CUSTOM|COMPUTE|HW|MISC|OWNER|STORAGE)_[A-Z0-9_]+$/;

/** Throws a 400 naming `path` (e.g. "traits") unless every trait is valid. */
export function checkTraits(traits: readonly string[], path: string): void {
  for (const t of traits) {
    if (t.length > 255 || !TRAIT_RE.test(t)) {
      throw new ValidationError(`"${t}" is not a valid trait: use CUSTOM_ followed by upper-case letters, digits and _, or a standard trait (COMPUTE_, HW_, MISC_, OWNER_, STORAGE_), at most 255 characters`, { path });
    }
  }
}

// File tests that answer false instead of throwing (missing files are normal for elements).
import { accessSync, constants, readdirSync, statSync } from 'node:fs';

export function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

export function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Entries of a directory, or none when it is not one. */
export function listDir(p: string): string[] {
  return isDir(p) ? readdirSync(p) : [];
}

// Limits on what the user can teach, shared by the store and the bundle reader.

/** A model tells at least two classes apart, and at most twenty (the UI's and the head's limit). */
export const MIN_CLASSES = 2;
export const MAX_CLASSES = 20;
export const MAX_CLASS_NAME = 40;
/** Examples per class: enough for any few-shot use, small enough for the storage quota (~3 MB). */
export const MAX_EXAMPLES_PER_CLASS = 1000;

/**
 * What is wrong with a class name, or null when it is fine. `taken` holds the other classes'
 * names, trimmed and lower-cased (names differing only in case would be confusing labels).
 */
export function checkClassName(name: string, taken: ReadonlySet<string>): string | null {
  const trimmed = name.trim();
  if (trimmed === '') return 'a class name must not be empty';
  if (trimmed.length > MAX_CLASS_NAME) return `class name "${trimmed.slice(0, 20)}…" is ${trimmed.length} characters, at most ${MAX_CLASS_NAME} are allowed`;
  if (taken.has(trimmed.toLowerCase())) return `there is already a class named "${trimmed}"`;
  return null;
}

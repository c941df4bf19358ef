/**
 * A broken invariant of the crash lab itself. Never caught by the lab: a failing assertion
 * means the lab is wrong, not the code under test (SPEC 5.3).
 */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`crash lab assertion failed: ${message}`);
}

/**
 * Assertions on invariants a power cut, a bug or corrupt media could break (SPEC 5.3). They stay
 * on in release builds and runtime code never catches them. On hot paths pass a constant
 * message: a template literal would allocate even when the condition holds.
 */
export class AssertionError extends Error {
  constructor(message: string) {
    super(`assertion failed: ${message}`);
    this.name = 'AssertionError';
  }
}

export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/**
 * Mutants `npm run mutate` does not make (docs/TESTING.md, "Mutation testing", says why).
 *
 * `message-text`: the text of an error or assertion message. Everything a caller can act on is
 * the error's class and its `code` (SPEC 5.3): those stay mutated, the message argument does
 * not. Mutating the words of `'FIFO append out of order'` or of a BAD_ARGUMENT explanation
 * changes no behaviour the specification defines, and a test pinning every message's wording
 * would only pin prose.
 */

/** Calls whose argument at this index is a message and nothing else. */
const messageCalls = new Map([
  ['assert', 1],
  ['badArgument', 0],
  ['checkOpen', 0],
]);
/** Constructors whose argument at this index is a message and nothing else. */
const messageConstructors = new Map([
  ['NodeError', 1],
  ['QueueFull', 1],
  ['AssertionError', 0],
]);

function isMessageArgument(path) {
  const parent = path.parentPath;
  if (parent === null) return false;
  const isCall = parent.isCallExpression();
  if (!isCall && !parent.isNewExpression()) return false;
  const callee = parent.node.callee;
  if (callee.type !== 'Identifier' && callee.type !== 'MemberExpression') return false;
  const name = callee.type === 'Identifier' ? callee.name : callee.property.name;
  const index = (isCall ? messageCalls : messageConstructors).get(name);
  return index !== undefined && parent.node.arguments[index] === path.node;
}

export const strykerPlugins = [
  {
    kind: 'Ignore',
    name: 'message-text',
    value: {
      shouldIgnore(path) {
        return isMessageArgument(path)
          ? 'the text of an error or assertion message (docs/TESTING.md, "Mutation testing")'
          : undefined;
      },
    },
  },
];

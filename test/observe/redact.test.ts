import { describe, expect, it } from 'vitest';
import { redactServiceMessage } from '../../src/observe/redact.js';

describe('redactServiceMessage', () => {
  it.each([
    [
      "1 validation error detected: Value 'Jane Doe' at 'name' failed to satisfy constraint: Member must have " +
        'length less than or equal to 512',
      "1 validation error detected: Value [redacted] at 'name' failed to satisfy constraint: Member must have " +
        'length less than or equal to 512',
    ],
    [
      // A value holding quotes, a newline and the word "at".
      "2 validation errors detected: Value 'O'Brien's call\nat 5' at 'name' failed to satisfy constraint: Member " +
        "must have length less than or equal to 10; Value '{ticket=Jane}' at 'attributes' failed to satisfy " +
        'constraint: Map value must satisfy constraint',
      "2 validation errors detected: Value [redacted] at 'name' failed to satisfy constraint: Member must have " +
        "length less than or equal to 10; Value [redacted] at 'attributes' failed to satisfy constraint: Map value " +
        'must satisfy constraint',
    ],
    [
      "Value null at 'instanceId' failed to satisfy constraint: Member must not be null",
      "Value [redacted] at 'instanceId' failed to satisfy constraint: Member must not be null",
    ],
    // Other phrasings: any quoted text goes.
    ['Invalid reference value "jane@example.com" for EMAIL', 'Invalid reference value [redacted] for EMAIL'],
    ["Attribute 'Jane' is not allowed", 'Attribute [redacted] is not allowed'],
    // A value holding an apostrophe goes whole; apostrophes inside words quote nothing.
    ["Attribute 'O'Brien' is not allowed", 'Attribute [redacted] is not allowed'],
    ["Can't accept 'Jane Doe' for the customer's name", "Can't accept [redacted] for the customer's name"],
    // Nothing quoted: the message is kept.
    [
      "HTTP 503: the answer's body was not the service's JSON (a proxy in between?)",
      "HTTP 503: the answer's body was not the service's JSON (a proxy in between?)",
    ],
    ['Rate exceeded', 'Rate exceeded'],
    ['Instance not found', 'Instance not found'],
  ])('%s', (message, expected) => {
    expect(redactServiceMessage(message)).toBe(expected);
  });

  it('a line of quotes that never close is kept, and a value quoted after them still goes', () => {
    const openers = " 'x".repeat(20_000);
    expect(redactServiceMessage(`${openers} "Jane Doe"`)).toBe(`${openers} [redacted]`);
    expect(redactServiceMessage(`${openers}\nname 'Jane Doe' refused`)).toBe(`${openers}\nname [redacted] refused`);
  });
});

/**
 * The one JSON shape every sink writes (src/sinks/event-json.ts), and the reason a transport's
 * error becomes (src/sinks/sink.ts): details that are JSON, that are not, that are no UTF-8 at
 * all; the replayed flag; a relayed event's origin trail.
 */
import { describe, expect, test } from 'vitest';
import { eventJson } from '../../src/sinks/event-json.js';
import { reasonOf, type SinkEvent } from '../../src/sinks/sink.js';

function event(details: Uint8Array, fields: Partial<SinkEvent> = {}): SinkEvent {
  return {
    node: '00000000000000aa',
    seq: 7,
    time: Date.UTC(2024, 0, 2, 3, 4, 5, 6),
    level: 4,
    severity: 'warning',
    source: 'raid',
    type: 'disk.slow',
    details,
    replayed: false,
    attempt: 1,
    origin: [],
    ...fields,
  };
}

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('the JSON of an event', () => {
  test('JSON details are parsed in; no details leave both fields out', () => {
    expect(eventJson(event(utf8('{"disk":3,"ms":[1,2]}')))).toEqual({
      node: '00000000000000aa',
      seq: 7,
      time: '2024-01-02T03:04:05.006Z',
      severity: 'warning',
      source: 'raid',
      type: 'disk.slow',
      details: { disk: 3, ms: [1, 2] },
    });
    const bare = eventJson(event(new Uint8Array()));
    expect(bare).not.toHaveProperty('details');
    expect(bare).not.toHaveProperty('detailsBase64');
  });

  test('details that are not JSON, or not UTF-8, are kept as base64', () => {
    const text = eventJson(event(utf8('disk 3 is slow')));
    expect(text).not.toHaveProperty('details');
    expect(text.detailsBase64).toBe(Buffer.from('disk 3 is slow').toString('base64'));
    const binary = new Uint8Array([0x22, 0xff, 0xfe, 0x22]); // a JSON string but for the bytes
    expect(eventJson(event(binary)).detailsBase64).toBe('Iv/+Ig==');
  });

  test('a replayed event says so; a relayed one carries its trail, oldest hop first', () => {
    const json = eventJson(
      event(new Uint8Array(), {
        replayed: true,
        origin: [
          { node: '0000000000000001', seq: 40 },
          { node: '0000000000000002', seq: 9 },
        ],
      }),
    );
    expect(json.replayed).toBe(true);
    expect(json.origin).toBe('0000000000000001:40>0000000000000002:9');
    const plain = eventJson(event(new Uint8Array()));
    expect(plain).not.toHaveProperty('replayed');
    expect(plain).not.toHaveProperty('origin');
  });
});

describe('the reason of a transport error', () => {
  test('an error with a code leads with it; one without is its message; anything else is its text', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), {
      code: 'ECONNREFUSED',
    });
    expect(reasonOf(refused)).toBe('ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1');
    expect(reasonOf(new Error('no route'))).toBe('no route');
    expect(reasonOf('socket hang up')).toBe('socket hang up');
    expect(reasonOf(undefined)).toBe('undefined');
  });
});

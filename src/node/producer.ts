/**
 * An event producer [110]: a handle for one system element (the event's source). `emit` records
 * the event in a pre-allocated slot [212], persists it to the FIFO [213], queues it [214] and
 * returns its sequence number once it is durable.
 */
import { recipientsMax, seqMax } from '../constants.js';
import { NodeError, badArgument } from '../events/errors.js';
import { encodeOrigin, type OriginHop } from '../events/origin.js';
import { severityLevel, type Severity } from '../events/severity.js';
import type { Node } from './node.js';

const textEncoder = new TextEncoder();
/** The cached type before any is resolved: equal to nothing a caller can pass (null included). */
const noTypeYet = Symbol();

export class Producer {
  readonly name: string;
  readonly sourceId: number;
  readonly #node: Node;
  // A one-entry cache: a producer usually emits the same few literal types, and comparing
  // the same string object is a pointer check, cheaper than a Map lookup per emit.
  #lastType: string | symbol = noTypeYet;
  #lastTypeId = -1;

  constructor(node: Node, name: string, sourceId: number) {
    this.#node = node;
    this.name = name;
    this.sourceId = sourceId;
  }

  /**
   * Records an event and returns its seq once it is durable (in 'power' durability each call
   * pays its own msyncs; use emitAsync to share them). Throws QueueFull when the pool has no
   * slot for this severity, EVENT_TOO_LARGE when details exceed the device's detailsBytesMax.
   */
  emit(type: string, severity: Severity, details?: Uint8Array | null): number {
    if (this.#node.recorder.acknowledgesLater) {
      throw new NodeError(
        'MIRROR_UNAVAILABLE',
        "nvrelay: a mirrored node returns an emit only once its partner's mirror holds it: use emitAsync",
      );
    }
    const typeId = type === this.#lastType ? this.#lastTypeId : this.#resolve(type);
    return this.#node.emitEvent(
      this.sourceId,
      typeId,
      severityLevel(severity),
      checkDetails(details),
    );
  }

  /**
   * Group commit: resolves with the seq once the event is durable. Concurrent calls share one
   * persist of their records (in 'power' durability: one msync per group). `counter` (a remote
   * producer's own emit counter, >= 1; 0 for none) is stored with the record, so a daemon that
   * restarts recognises an emit sent again (docs/PROTOCOL.md).
   */
  emitAsync(
    type: string,
    severity: Severity,
    details?: Uint8Array | null,
    counter = 0,
  ): Promise<number> {
    const typeId = type === this.#lastType ? this.#lastTypeId : this.#resolve(type);
    if (!Number.isSafeInteger(counter) || counter < 0 || counter > seqMax)
      badArgument(`counter must be an integer in [0, ${seqMax}], got ${String(counter)}`);
    return this.#node.emitEventAsync(
      this.sourceId,
      typeId,
      severityLevel(severity),
      checkDetails(details),
      counter,
    );
  }

  /**
   * emitAsync for a multiplexing recipient (src/mux) [252]: the event it received, recorded with
   * its origin trail (the path it took; the last hop its immediate upstream and its seq there).
   * The trail counts against detailsBytesMax. `except`: recipient ids it is not meant for
   * although subscribed (a partner's event taken over [193]: those that had confirmed it there).
   */
  emitRelayed(
    type: string,
    severity: Severity,
    details: Uint8Array | null,
    origin: readonly OriginHop[],
    except: readonly number[] = [],
  ): Promise<number> {
    const typeId = type === this.#lastType ? this.#lastTypeId : this.#resolve(type);
    const trail = encodeOrigin(origin);
    return this.#node.emitEventAsync(
      this.sourceId,
      typeId,
      severityLevel(severity),
      checkDetails(details),
      0,
      trail,
      exceptMask(except),
    );
  }

  /** emit() with details = UTF-8 JSON of `value` (allocates; a convenience). */
  emitJson(type: string, severity: Severity, value: unknown): number {
    return this.emit(type, severity, textEncoder.encode(JSON.stringify(value)));
  }

  #resolve(type: string): number {
    const typeId = this.#node.typeId(type);
    this.#lastType = type;
    this.#lastTypeId = typeId;
    return typeId;
  }
}

/** Recipient ids as a mask's low and high 32 bits. */
function exceptMask(ids: readonly number[]): [low: number, high: number] {
  let low = 0;
  let high = 0;
  for (const id of ids) {
    if (!Number.isSafeInteger(id) || id < 0 || id >= recipientsMax)
      badArgument(`a recipient id must be an integer in [0, ${recipientsMax}), got ${String(id)}`);
    if (id < 32) low |= 1 << id;
    else high |= 1 << (id - 32);
  }
  return [low, high];
}

function checkDetails(details: Uint8Array | null | undefined): Uint8Array | null {
  if (details === undefined || details === null) return null;
  if (!(details instanceof Uint8Array))
    badArgument('details must be a Uint8Array (or use emitJson)');
  return details;
}

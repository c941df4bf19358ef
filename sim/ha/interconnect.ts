/**
 * The interconnect of an HA pair in the simulation [193]: one mirror channel each way, whose
 * frames the script moves, holds back (delay), loses or delivers twice, and which a partition
 * cuts for a while. A frame is one MirrorUpdate: moved once, it is applied to the receiver's
 * mirror and its acknowledgement is on the way back; moved again, the acknowledgement reaches
 * the sender (whose emit returns only then). A lost frame or acknowledgement fails the send,
 * as a timeout would: the sender's MirrorSource goes down until the script connects it again.
 */
import type { MirrorPort } from '../../src/ha/mirror-source.js';
import type { MirrorAck, MirrorUpdate } from '../../src/ha/mirror-update.js';

/** Applies an update at the receiving end (throws if the receiver's device lost power). */
export type MirrorReceiver = (update: MirrorUpdate) => MirrorAck;

interface Frame {
  update: MirrorUpdate;
  resolve: (ack: MirrorAck) => void;
  reject: (error: Error) => void;
  ack: MirrorAck | null;
}

/** How a frame fared when moved. */
export type FrameFate = 'applied' | 'applied-twice' | 'acknowledged' | 'lost' | 'none';

export class MirrorChannel {
  /** Node indexes: the sender of the updates, the holder of the mirror. */
  readonly from: number;
  readonly to: number;
  readonly #frames: Frame[] = [];
  /** The receiving end while it is up, else null. */
  receiver: MirrorReceiver | null = null;
  /** Steps left of a partition (0: none). */
  partitioned = 0;
  lost = 0;

  constructor(from: number, to: number) {
    this.from = from;
    this.to = to;
  }

  get inFlight(): number {
    return this.#frames.length;
  }

  /** True if a source may connect over this channel now. */
  get open(): boolean {
    return this.partitioned === 0 && this.receiver !== null;
  }

  /** The sender's port (what its MirrorSource sends through). */
  readonly port: MirrorPort = {
    send: (update) =>
      new Promise<MirrorAck>((resolve, reject) => {
        if (!this.open) {
          reject(new Error('interconnect: the partner is unreachable'));
          return;
        }
        this.#frames.push({ update, resolve, reject, ack: null });
      }),
  };

  /**
   * Moves the oldest frame one hop: applied at the receiver (twice when `duplicate`), or its
   * acknowledgement delivered; `lose` loses it instead (the sender's send fails).
   */
  move(options: { lose: boolean; duplicate: boolean }): FrameFate {
    const frame = this.#frames[0];
    if (frame === undefined) return 'none';
    if (options.lose || this.receiver === null) {
      this.#loseFirst();
      return 'lost';
    }
    if (frame.ack === null) {
      try {
        frame.ack = this.receiver(frame.update);
        if (!options.duplicate) return 'applied';
        this.receiver(frame.update); // a second copy of the frame, applied again
      } catch (error) {
        if (frame.ack === null) this.#loseFirst(); // refused, or the receiver lost power
        throw error;
      }
      return 'applied-twice';
    }
    this.#frames.shift();
    frame.resolve(frame.ack);
    return 'acknowledged';
  }

  /** A partition, or the receiver went down: everything in flight fails. */
  cut(steps: number): void {
    this.partitioned = Math.max(this.partitioned, steps);
    while (this.#frames.length > 0) this.#loseFirst();
  }

  /** The sender lost power: its frames go with it, nobody waits for them. */
  senderDied(): void {
    this.lost += this.#frames.length;
    this.#frames.length = 0;
  }

  /** The receiver went down: frames to it fail. */
  receiverDied(): void {
    this.receiver = null;
    while (this.#frames.length > 0) this.#loseFirst();
  }

  /** One step of time: a partition heals after its steps. */
  tick(): void {
    if (this.partitioned > 0) this.partitioned--;
  }

  #loseFirst(): void {
    const frame = this.#frames.shift();
    if (frame === undefined) return;
    this.lost++;
    frame.reject(new Error('interconnect: a mirror frame was lost'));
  }
}

/**
 * Group commit (`Producer.emitAsync`): the records of every emit in one turn of the event loop
 * are stored and flushed as they come; one fence then makes them all durable, which publishes
 * them [213] (recovery scans past the tail word, ARCHITECTURE row D4), the tail word is stored
 * as a hint, and one promise tells every emitter. In 'power' durability that is one msync per
 * group, which also carries the pointer words and any confirmation word the head does not pass.
 */
/** The events of one group commit: their seqs and interned ids, and one shared promise. */
export class GroupCommit {
  readonly fifoIndex: number;
  readonly from: number;
  count = 0;
  seqs: number[] = [];
  typeIds: number[] = [];
  sourceIds: number[] = [];
  readonly promise: Promise<void>;
  resolve!: () => void;
  reject!: (error: unknown) => void;

  constructor(fifoIndex: number, from: number) {
    this.fifoIndex = fifoIndex;
    this.from = from;
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.promise.catch(() => {}); // the emitters' derived promises carry the rejection
  }

  add(seq: number, typeId: number, sourceId: number): void {
    this.seqs.push(seq);
    this.typeIds.push(typeId);
    this.sourceIds.push(sourceId);
    this.count++;
  }
}

/**
 * RELP's frames (the Reliable Event Logging Protocol, rsyslog's librelp, doc/relp.md):
 *
 *     FRAME   = TXNR SP COMMAND SP DATALEN [SP DATA] LF
 *     TXNR    = 1*9DIGIT        (0: a hint from the server, e.g. `serverclose`; commands: 1..)
 *     COMMAND = 1*32ALPHA
 *     DATALEN = 1*9DIGIT        (the octets of DATA; 0: no SP and no DATA)
 *
 * and the data of an `rsp`: `CODE [SP TEXT] [LF OFFERS]`, CODE three digits (200: OK).
 *
 * The reader takes the server's bytes as they come (a frame may be cut anywhere across TCP
 * reads) and is strict: a byte where the grammar allows none, a number too long, DATA longer
 * than `dataBytesMax`, or a frame not ended by LF throws RelpFrameError, after which the
 * connection is dropped. RELP says the peer that finds a framing error closes the connection and
 * does not try to resynchronise: what follows a bad frame cannot be trusted, and a reconnect
 * clears a transient fault.
 */

/** Transaction numbers run 1..999999999, then wrap to 1 (0 is the server's hints'). */
export const txnrMax = 999_999_999;

/** The largest DATA a server's frame may carry: RELP's 128 KiB (an rsp is a few hundred). */
export const dataBytesMaxDefault = 128 * 1024;

export interface RelpFrame {
  txnr: number;
  command: string;
  data: Buffer;
}

export class RelpFrameError extends Error {}

const lf = Buffer.from('\n', 'latin1');

/** The transaction number after `txnr`. */
export function nextTxnr(txnr: number): number {
  return txnr >= txnrMax ? 1 : txnr + 1;
}

export function encodeFrame(txnr: number, command: string, data: Buffer = Buffer.alloc(0)): Buffer {
  if (!Number.isInteger(txnr) || txnr < 0 || txnr > txnrMax) throw new RangeError('relp txnr');
  if (!/^[A-Za-z]{1,32}$/.test(command)) throw new RangeError('relp command');
  if (data.length > txnrMax) throw new RangeError('relp data length');
  const header = `${txnr} ${command} ${data.length}`;
  if (data.length === 0) return Buffer.from(`${header}\n`, 'latin1');
  return Buffer.concat([Buffer.from(`${header} `, 'latin1'), data, lf]);
}

const space = 0x20;
const newline = 0x0a;

const isDigit = (byte: number): boolean => byte >= 0x30 && byte <= 0x39;
const isAlpha = (byte: number): boolean =>
  (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a);

type Field = 'txnr' | 'command' | 'datalen' | 'data' | 'trailer';

/** Frames from a byte stream, one `push` per chunk read. */
export class RelpFrameReader {
  readonly #dataBytesMax: number;
  #field: Field = 'txnr';
  #txnr = '';
  #command = '';
  #datalen = '';
  #data: Buffer[] = [];
  #left = 0;

  constructor(dataBytesMax = dataBytesMaxDefault) {
    this.#dataBytesMax = dataBytesMax;
  }

  /** The frames this chunk completes; throws RelpFrameError at the first byte out of place. */
  push(chunk: Buffer): RelpFrame[] {
    const frames: RelpFrame[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.#field === 'data') {
        const take = Math.min(this.#left, chunk.length - at);
        this.#data.push(chunk.subarray(at, at + take));
        this.#left -= take;
        at += take;
        if (this.#left === 0) this.#field = 'trailer';
      } else {
        const frame = this.#step(chunk[at] as number);
        at++;
        if (frame !== null) frames.push(frame);
      }
    }
    return frames;
  }

  /** One byte of the header or the trailer; the frame it completes, if any. */
  #step(byte: number): RelpFrame | null {
    switch (this.#field) {
      case 'txnr':
        if (byte === space && this.#txnr !== '') this.#field = 'command';
        else this.#txnr = digit(this.#txnr, byte, 'TXNR');
        return null;
      case 'command':
        if (byte === space && this.#command !== '') this.#field = 'datalen';
        else if (isAlpha(byte) && this.#command.length < 32)
          this.#command += String.fromCharCode(byte);
        else throw bad('a COMMAND of 1..32 letters', byte);
        return null;
      case 'datalen':
        if (byte === newline && this.#datalen !== '') return this.#endOfLength();
        if (byte === space && this.#datalen !== '') this.#startData();
        else this.#datalen = digit(this.#datalen, byte, 'DATALEN');
        return null;
      default:
        if (byte !== newline) throw bad('LF after DATA (DATALEN does not match)', byte);
        return this.#complete();
    }
  }

  /** DATALEN then LF: a frame without data, which only DATALEN 0 may be. */
  #endOfLength(): RelpFrame {
    if (Number(this.#datalen) !== 0)
      throw new RelpFrameError(`relp: DATALEN ${this.#datalen} but no DATA`);
    return this.#complete();
  }

  /** DATALEN then SP: DATA follows, at least one octet and at most dataBytesMax. */
  #startData(): void {
    const length = Number(this.#datalen);
    if (length === 0) throw new RelpFrameError('relp: DATALEN 0 followed by SP');
    if (length > this.#dataBytesMax)
      throw new RelpFrameError(`relp: DATALEN ${length} is over ${this.#dataBytesMax}`);
    this.#left = length;
    this.#field = 'data';
  }

  #complete(): RelpFrame {
    const frame = {
      txnr: Number(this.#txnr),
      command: this.#command,
      data: Buffer.concat(this.#data),
    };
    this.#field = 'txnr';
    this.#txnr = this.#command = this.#datalen = '';
    this.#data = [];
    return frame;
  }
}

/** A number's digits so far and one more; at most 9 (RELP's NUMBER). */
function digit(value: string, byte: number, what: string): string {
  if (isDigit(byte) && value.length < 9) return value + String.fromCharCode(byte);
  throw bad(`a ${what} of 1..9 digits`, byte);
}

function bad(expected: string, byte: number): RelpFrameError {
  return new RelpFrameError(
    `relp: bad frame: expected ${expected}, got byte 0x${byte.toString(16)}`,
  );
}

export interface RelpResponse {
  /** 200: OK; anything else an error. */
  code: number;
  text: string;
  /** The offers after the first line (an `open`'s answer): name to value ('' if none). */
  offers: Map<string, string>;
}

/** An `rsp`'s data; null if it is not `CODE [SP TEXT] [LF OFFERS]`. */
export function parseResponse(data: Buffer): RelpResponse | null {
  const text = data.toString('utf8');
  const end = text.indexOf('\n');
  const first = end < 0 ? text : text.slice(0, end);
  const match = /^(\d{3})(?: ([^\n]*))?$/.exec(first);
  if (match === null) return null;
  const offers = new Map<string, string>();
  if (end >= 0)
    for (const line of text.slice(end + 1).split('\n')) {
      if (line === '') continue;
      const equals = line.indexOf('=');
      if (equals < 0) offers.set(line, '');
      else offers.set(line.slice(0, equals), line.slice(equals + 1));
    }
  return { code: Number(match[1]), text: match[2] ?? '', offers };
}

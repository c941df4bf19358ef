/**
 * Time for event stamps [111] and retry deadlines [215], without allocating: a clock's reading
 * (a builtin returns a boxed double) is kept in a typed cell and reused. With the default
 * clock one reading serves up to `timeReuseMax` uses in one turn of the event loop and is
 * dropped at the end of the turn, so a lone event still gets an exact time; a caller's clock
 * (tests, simulations) is read at every use.
 */
import { timeReuseMax } from '../constants.js';

export interface Clock {
  /** Milliseconds; only differences matter to the engine (timeouts), and event times use it. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export class ClockCell {
  readonly clock: Clock;
  /** The current reading; valid after read(). */
  readonly cell = new Float64Array(1);
  readonly #coarse: boolean;
  #uses = 0;
  #fresh = false;
  #expiryScheduled = false;
  readonly #expire = (): void => {
    this.#fresh = false;
    this.#expiryScheduled = false;
  };

  constructor(clock: Clock | undefined) {
    this.clock = clock ?? systemClock;
    this.#coarse = clock === undefined;
  }

  /** Makes cell[0] a reading of this moment (to the reuse rule above). */
  read(): void {
    if (!this.#fresh || this.#uses >= timeReuseMax) this.#refresh();
    this.#uses++;
  }

  #refresh(): void {
    this.cell[0] = this.clock.now();
    this.#uses = 0;
    this.#fresh = this.#coarse;
    if (this.#coarse && !this.#expiryScheduled) {
      this.#expiryScheduled = true;
      setImmediate(this.#expire);
    }
  }
}

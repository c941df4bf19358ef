/**
 * Limits and defaults of the event system, in one place (SPEC 5.4). Every name carries its unit
 * (or qualifier) last. Limits that shape the on-NVRAM layout are fixed at format time and read
 * back from the control section at boot (src/node/layout.ts); the rest are per-boot defaults.
 */

/** SPEC 3: the unit of atomicity. */
export const wordBytes = 8;
/** SPEC 3: the unit of flushing; head and tail each get their own. */
export const lineBytes = 64;
/** Device sections are laid out in whole pages. */
export const pageBytes = 4096;
/** The device header page precedes every section. */
export const deviceHeaderBytes = 4096;

/**
 * One bit per recipient in the u64 intended and confirmation masks [111]; the confirmation
 * word's top byte is its check (src/events/checked-word.ts), so 56, not 64.
 */
export const recipientsMax = 56;
/** A recipient's persistent name (recipients table entry). */
export const recipientNameBytesMax = 48;
/** A producer's name: the system element that recognised the event [111]. */
export const sourceBytesMax = 32;
/** A dotted event type name, e.g. `disk.failed` [111]. */
export const typeBytesMax = 64;
/** Largest details limit a device may be formatted with (the record length is a u16). */
export const detailsBytesLimit = 60_000;

/** Format-time defaults (nodeLayout). */
export const detailsBytesMaxDefault = 256;
export const bootSlotsDefault = 64;
export const runtimeSlotsDefault = 4096;
export const deadLetterSlotsDefault = 64;
/** Ring sizes above this are refused: the volatile mirrors are sized from them at boot. */
export const fifoSlotsMax = 1 << 22;

/**
 * Sequence numbers come from a persisted lease word (SPEC 4.5): a boot reserves the next
 * `seqLeaseStep` numbers by persisting lease + step before using any of them, so numbers never
 * repeat across reboots and need no BigInt (2^48 / 2^16 boots-worth of leases).
 */
export const seqLeaseStep = 65_536;
/**
 * Largest sequence number (and FIFO counter): the lease and pointer words keep 48 bits of value
 * beside their check (src/events/checked-word.ts); leaves room for one more lease.
 */
export const seqMax = 2 ** 48 - 1 - 2 * seqLeaseStep;

/** Per-recipient in-flight window (delivered, not yet confirmed) [160]. */
export const inFlightMaxDefault = 64;
export const inFlightLimit = 4096;
/** Retry of an unconfirmed delivery (step 215): first timeout, growth, cap, attempts. */
export const retryTimeoutMsDefault = 1_000;
export const retryBackoffFactorDefault = 2;
export const retryTimeoutMaxMsDefault = 60_000;
export const attemptsMaxDefault = 5;
export const attemptsLimit = 1_000;

/**
 * Severity reservation [120, 130]: this share of every pool is usable only by `err` or worse,
 * so a flood of `info` can never make an urgent event fail.
 */
export const urgentReserveDivisor = 8;
/** syslog levels 0..3 (emerg, alert, crit, err) are urgent. */
export const urgentSeverityMax = 3;

/**
 * With the default clock, one reading stamps up to this many events (and drain passes) of one
 * turn of the event loop (src/engine/clock.ts).
 */
export const timeReuseMax = 1_024;

/** Interned event types and producers (volatile tables sized at boot). */
export const typesMax = 1_024;
export const producersMax = 256;

/**
 * The daemon's config file (docs/CONFIG.md): JSON, validated with a schema (zod) before the
 * device is opened, every mistake reported with its path in the file ("recipients.audit.retry
 * .attemptsMax: expected an integer >= 1"). It declares the recipients the daemon knows before
 * they connect (so events emitted while they are away are meant for them [160, 170]), their
 * subscriptions, retry policies and in-flight windows, and the daemon's own limits.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { attemptsLimit, inFlightLimit } from '../constants.js';
import { NodeError } from '../events/errors.js';
import { isValidName } from '../events/names.js';
import { severityNames, type SeverityName } from '../events/severity.js';
import { sinkKinds } from '../sinks/config.js';

const severity = z.enum(severityNames as unknown as [SeverityName, ...SeverityName[]]);

const retry = z
  .object({
    timeoutMs: z.number().positive(),
    backoffFactor: z.number().min(1),
    timeoutMaxMs: z.number().positive(),
    attemptsMax: z.number().int().min(1).max(attemptsLimit),
  })
  .partial()
  .strict();

const recipient = z
  .object({
    prefixes: z.array(z.string().regex(/^[A-Za-z0-9_.-]*$/, 'a type prefix of [A-Za-z0-9_.-]')),
    severityMax: severity,
    retry,
    inFlightMax: z.number().int().min(1).max(inFlightLimit),
  })
  .partial()
  .strict();

/**
 * An upstream node this daemon is a multiplexing recipient of (src/mux, steps 250-280): it
 * connects there as a remote recipient and records what it receives as events of its own.
 */
const upstream = z
  .object({
    /** The upstream daemon's address: unix:PATH, tcp://HOST:PORT or tls://HOST:PORT. */
    address: z.string().min(1),
    /** This daemon's recipient name at the upstream (declare it there with a generous retry). */
    recipient: z.string().refine((name) => isValidName('recipient', name), 'a recipient name'),
    /** custody: confirm upstream once recorded here; end-to-end: once this node's recipients confirmed. */
    mode: z.enum(['custody', 'end-to-end']).default('custody'),
    prefixes: z
      .array(z.string().regex(/^[A-Za-z0-9_.-]*$/, 'a type prefix of [A-Za-z0-9_.-]'))
      .optional(),
    severityMax: severity.optional(),
    /** Deliveries in flight from the upstream at once. */
    window: z.number().int().min(1).max(0xffff).default(256),
    /** For a tls:// address: this daemon's client certificate and key, and the upstream's CA (PEM files). */
    tls: z
      .object({ cert: z.string().min(1), key: z.string().min(1), ca: z.string().min(1) })
      .strict()
      .optional(),
  })
  .strict();

/**
 * A sink (src/sinks): a recipient inside the daemon that hands events to rsyslog, an HTTP
 * endpoint, a file or a Redis stream, confirming each once that system holds it durably.
 */
const sinkShared = {
  ...recipient.shape,
  /** Events per send at most (one write, request, pipeline or RELP window). */
  batchMax: z.number().int().min(1).max(inFlightLimit).default(64),
};
const sink = z.discriminatedUnion('kind', [
  z.object({ ...sinkShared, ...sinkKinds.jsonl }).strict(),
  z.object({ ...sinkShared, ...sinkKinds.webhook }).strict(),
  z.object({ ...sinkShared, ...sinkKinds['redis-stream'] }).strict(),
  z.object({ ...sinkShared, ...sinkKinds.relp }).strict(),
]);

/** HOST:PORT on loopback (the interconnect is plain TCP, as the daemon's own TCP listener). */
const loopbackAddress = z
  .string()
  .regex(
    /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[::1\]):\d{1,5}$/,
    'HOST:PORT with a loopback host (127.x.x.x, localhost or [::1])',
  );

/**
 * The HA pair [193] (src/ha, docs/CONFIG.md): this node's interconnect listener, its partner's,
 * whether an emit needs the partner's mirror, and the coordinator of the stream leases.
 */
const partner = z
  .object({
    listen: loopbackAddress,
    address: loopbackAddress,
    /** required: refuse emits the mirror does not hold; preferred: run degraded and say so. */
    mirror: z.enum(['required', 'preferred']).default('required'),
    lease: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('file'), path: z.string().min(1) }).strict(),
      z.object({ kind: z.literal('etcd'), endpoints: z.array(z.string().url()).min(1) }).strict(),
    ]),
    /** A failed node's stream is taken over this long after its last renewal (etcd: whole seconds). */
    leaseTtlMs: z.number().int().min(300).max(600_000).default(3000),
  })
  .strict();

export const configSchema = z
  .object({
    /** Recipients by name: known before they connect. */
    recipients: z
      .record(
        z.string().refine((name) => isValidName('recipient', name), 'a recipient name'),
        recipient,
      )
      .default({}),
    /** Upstream nodes by name: this daemon is their multiplexing recipient. */
    upstreams: z
      .record(
        z.string().regex(/^[A-Za-z0-9._-]{1,32}$/, 'an upstream name of [A-Za-z0-9._-], 1..32'),
        upstream,
      )
      .default({}),
    /** Sinks by name (a recipient name, not also a recipient's): recipients inside the daemon. */
    sinks: z
      .record(
        z.string().refine((name) => isValidName('recipient', name), 'a recipient name'),
        sink,
      )
      .default({}),
    /** The HA pair this node is one of (src/ha), if any. */
    partner: partner.optional(),
    /** Refuse subscriptions by names the config does not declare. */
    strictRecipients: z.boolean().default(false),
    /** Default retry policy and window of every recipient. */
    retry: retry.default({}),
    inFlightMax: z.number().int().min(1).max(inFlightLimit).default(64),
    /** Each side pings after this much silence; 3x without a frame drops the connection. */
    heartbeatMs: z.number().int().min(50).max(600_000).default(5_000),
    /** Retire a recipient absent this long after start (dead-letters what it owes); off if absent. */
    absentRecipientGraceMs: z.number().positive().optional(),
    /** Largest frame accepted, in bytes. */
    frameBytesMax: z
      .number()
      .int()
      .min(1024)
      .max(1 << 24)
      .default(1 << 17),
  })
  .strict()
  .superRefine((config, context) => {
    for (const name of Object.keys(config.sinks))
      if (name in config.recipients)
        context.addIssue({
          code: 'custom',
          path: ['sinks', name],
          message: `'${name}' is also a recipient's name: a sink is a recipient of its own`,
        });
  });

export type DaemonConfig = z.infer<typeof configSchema>;
export type RecipientConfig = z.infer<typeof recipient>;
export type UpstreamConfig = z.infer<typeof upstream>;
export type SinkConfig = z.infer<typeof sink>;
export type PartnerConfig = z.infer<typeof partner>;

/** The config with every default, for a daemon run without a file. */
export function defaultConfig(): DaemonConfig {
  return configSchema.parse({});
}

/** Validates a parsed config; BAD_ARGUMENT listing every mistake with its path. */
export function parseConfig(value: unknown, origin = 'config'): DaemonConfig {
  const result = configSchema.safeParse(value);
  if (result.success) return result.data;
  const mistakes = result.error.issues.map((issue) => {
    const path = issue.path.length === 0 ? '(top level)' : issue.path.join('.');
    return `  ${path}: ${issue.message}`;
  });
  throw new NodeError(
    'BAD_ARGUMENT',
    `nvrelay: ${origin}: ${mistakes.length} mistake${mistakes.length === 1 ? '' : 's'}:\n${mistakes.join('\n')}`,
  );
}

/** Reads and validates a JSON config file. */
export function loadConfig(path: string): DaemonConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new NodeError('BAD_ARGUMENT', `nvrelay: ${path}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new NodeError('BAD_ARGUMENT', `nvrelay: ${path}: not JSON (${(error as Error).message})`);
  }
  return parseConfig(value, path);
}

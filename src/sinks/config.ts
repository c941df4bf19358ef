/**
 * The `sinks` section of the daemon's config (docs/CONFIG.md): each sink by name (its recipient
 * name), its kind and where it sends, and what every recipient has: a subscription, a retry
 * policy (the backoff between attempts of a sink that is down), an in-flight window.
 */
import { z } from 'zod';

export const facilityNames = [
  'kern',
  'user',
  'mail',
  'daemon',
  'auth',
  'syslog',
  'lpr',
  'news',
  'uucp',
  'cron',
  'authpriv',
  'ftp',
  'ntp',
  'audit',
  'alert',
  'clock',
  'local0',
  'local1',
  'local2',
  'local3',
  'local4',
  'local5',
  'local6',
  'local7',
] as const;

const tlsFiles = z
  .object({ cert: z.string().min(1), key: z.string().min(1), ca: z.string().min(1) })
  .strict();

const hostPort = z
  .string()
  .regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'HOST:PORT (an IPv6 host in brackets)');

/** The kinds' own fields; the daemon's config adds the recipient's (src/daemon/config.ts). */
export const sinkKinds = {
  jsonl: {
    kind: z.literal('jsonl'),
    path: z.string().min(1),
    rotateBytes: z
      .number()
      .int()
      .min(4096)
      .default(64 * 1024 * 1024),
    keep: z.number().int().min(1).max(1000).default(5),
  },
  webhook: {
    kind: z.literal('webhook'),
    url: z
      .string()
      .regex(/^https?:\/\/.+/, 'an http:// or https:// URL')
      .refine((url) => URL.canParse(url), 'a URL that parses'),
    /** The environment variable holding the HMAC key (the X-Nvrelay-Signature header). */
    secretEnv: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name')
      .optional(),
    timeoutMs: z.number().int().min(1).max(600_000).default(5_000),
    headers: z
      .record(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'an HTTP header name'), z.string())
      .default({}),
    /** At most 256: the X-Nvrelay-Events header names each event (about 25 bytes each). */
    batchMax: z.number().int().min(1).max(256).default(64),
  },
  'redis-stream': {
    kind: z.literal('redis-stream'),
    url: z
      .string()
      .regex(/^rediss?:\/\/.+/, 'a redis:// or rediss:// URL')
      .refine((url) => URL.canParse(url), 'a URL that parses')
      .default('redis://127.0.0.1:6379'),
    stream: z.string().min(1),
    /** XADD MAXLEN ~ this (approximate trimming); none if absent. */
    maxlen: z.number().int().min(1).optional(),
    /** Confirm only after WAIT saw this many replicas acknowledge (0: no WAIT). */
    waitReplicas: z.number().int().min(0).default(0),
    waitTimeoutMs: z.number().int().min(1).default(1_000),
    /** Confirm only if the server runs appendonly yes with appendfsync always (checked on connect). */
    requireFsyncAlways: z.boolean().default(true),
    timeoutMs: z.number().int().min(1).max(600_000).default(5_000),
  },
  relp: {
    kind: z.literal('relp'),
    address: hostPort,
    tls: tlsFiles.optional(),
    facility: z.enum(facilityNames).default('local0'),
    /** The syslog APP-NAME; HOSTNAME is this machine's name unless given. */
    appName: z
      .string()
      .regex(/^[!-~]{1,48}$/, 'printable ASCII, 1..48')
      .default('nvrelay'),
    hostname: z
      .string()
      .regex(/^[!-~]{1,255}$/, 'printable ASCII, 1..255')
      .optional(),
    /** A send with no answer within this is cut short (the connection is dropped and reopened). */
    timeoutMs: z.number().int().min(1).max(600_000).default(10_000),
  },
} as const;

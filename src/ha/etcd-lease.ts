/**
 * Stream leases on etcd (./lease.ts), the coordinator of a pair on two machines.
 *
 * Per stream, two keys under `prefix` (default `/nvrelay/streams/`):
 * - `<stream>/owner`: the holder, attached to an etcd lease of `ttlMs / 1000` seconds. It is
 *   created by one txn, `if createRevision(owner) == 0 then put owner, put last`, so the owner
 *   key's create revision (the txn's revision) is the grant's fencing token: etcd's revision
 *   only grows, so tokens strictly increase. Expiry and release (a revoke) delete it.
 * - `<stream>/last`: `{"holder": ...}` as JSON, no etcd lease: written by that same txn, so its
 *   mod revision is the token of the last grant ever made (the token itself is not known until
 *   the txn commits, so it is not in the value).
 *
 * renew: the owner key must still exist with the grant's create revision and holder, then one
 * keepalive of its etcd lease, which etcd must answer with a TTL above 0 (a lease that expired
 * meanwhile answers 0). release: revoke the owner key's etcd lease, if the key is still this
 * grant's. etcd raises a TTL below its minimum (which derives from its election timeout) without
 * saying so: a grant with a longer TTL than asked is refused (BAD_ARGUMENT).
 *
 * Every call has a deadline (`timeoutMs`, on the gRPC call and on the promise): a coordinator
 * that hangs is LEASE_UNAVAILABLE, never a hung node. The client neither retries nor opens a
 * circuit breaker (cockatiel's noop policies): the keeper's renewal schedule is the retry.
 */
import { noop } from 'cockatiel';
import { Etcd3, EtcdLeaseInvalidError, type IKeyValue } from 'etcd3';
import {
  LeaseError,
  type LeaseGrant,
  type LeaseRecord,
  type StreamLeases,
  withinTimeout,
} from './lease.js';

export interface EtcdLeaseOptions {
  /** etcd's client URLs, e.g. `http://127.0.0.1:2379`. */
  hosts: string | string[];
  /** Whole seconds, at least one (etcd's lease TTL is in seconds). */
  ttlMs: number;
  /** Each call's deadline; 1000 ms by default. */
  timeoutMs?: number;
  prefix?: string;
}

export class EtcdLeases implements StreamLeases {
  readonly ttlMs: number;
  readonly timeoutMs: number;
  readonly prefix: string;
  protected readonly client: Etcd3;
  protected closed = false;

  constructor(options: EtcdLeaseOptions) {
    if (!(Number.isInteger(options.ttlMs / 1000) && options.ttlMs >= 1000))
      throw new LeaseError(
        'BAD_ARGUMENT',
        'nvrelay: an etcd lease ttlMs is whole seconds, >= 1000',
      );
    this.ttlMs = options.ttlMs;
    this.timeoutMs = options.timeoutMs ?? 1000;
    this.prefix = options.prefix ?? '/nvrelay/streams/';
    this.client = new Etcd3({
      hosts: options.hosts,
      dialTimeout: this.timeoutMs,
      faultHandling: { host: () => noop, global: noop },
    });
  }

  async acquire(stream: string, holder: string): Promise<LeaseGrant | null> {
    return this.call(`acquire ${stream}`, async (deadline) => {
      const { ID, TTL } = await this.client.leaseClient.leaseGrant(
        { TTL: this.ttlMs / 1000 },
        { deadline },
      );
      try {
        if (Number(TTL) * 1000 > this.ttlMs) {
          throw new LeaseError(
            'BAD_ARGUMENT',
            `nvrelay: etcd granted a ${TTL} s lease for ${this.ttlMs} ms: its minimum TTL is longer (lower its --election-timeout)`,
          );
        }
        const owner = this.ownerKey(stream);
        const txn = await this.client.kv.txn(
          {
            compare: [{ key: owner, target: 'Create', result: 'Equal', create_revision: 0 }],
            success: [
              { request_put: { key: owner, value: Buffer.from(holder), lease: ID } },
              { request_put: { key: this.lastKey(stream), value: Buffer.from(lastValue(holder)) } },
            ],
          },
          { deadline },
        );
        if (!txn.succeeded) {
          await this.revoke(ID, deadline);
          return null;
        }
        return { stream, holder, token: BigInt(txn.header.revision) };
      } catch (error) {
        // the txn may have committed before its answer was lost: nobody must hold it then
        await this.revoke(ID, deadline).catch(() => undefined);
        throw error;
      }
    });
  }

  async renew(grant: LeaseGrant): Promise<boolean> {
    return this.call(`renew ${grant.stream}`, async (deadline) => {
      const owner = await this.owner(grant, deadline);
      if (owner === null) return false;
      const stream = await this.client.leaseClient.leaseKeepAlive({ deadline });
      try {
        const answer = await new Promise<{ TTL: string }>((resolve, reject) => {
          stream.on('data', resolve);
          stream.on('error', reject);
          stream.write({ ID: owner.lease });
        });
        return Number(answer.TTL) > 0;
      } finally {
        stream.end();
      }
    });
  }

  async release(grant: LeaseGrant): Promise<void> {
    await this.call(`release ${grant.stream}`, async (deadline) => {
      const owner = await this.owner(grant, deadline);
      if (owner !== null) await this.revoke(owner.lease, deadline);
    });
  }

  async current(stream: string): Promise<LeaseRecord | null> {
    return this.call(`current ${stream}`, async (deadline) => {
      const kv = await this.get(this.ownerKey(stream), deadline);
      return kv && { holder: kv.value.toString(), token: BigInt(kv.create_revision) };
    });
  }

  async last(stream: string): Promise<LeaseRecord | null> {
    return this.call(`last ${stream}`, async (deadline) => {
      const kv = await this.get(this.lastKey(stream), deadline);
      return kv && { holder: this.holderIn(kv), token: BigInt(kv.mod_revision) };
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.client.close();
  }

  protected ownerKey(stream: string): Buffer {
    return Buffer.from(`${this.prefix}${stream}/owner`);
  }

  protected lastKey(stream: string): Buffer {
    return Buffer.from(`${this.prefix}${stream}/last`);
  }

  /** The owner key if it is still this grant's. */
  protected async owner(grant: LeaseGrant, deadline: Date): Promise<IKeyValue | null> {
    const kv = await this.get(this.ownerKey(grant.stream), deadline);
    const ours =
      kv !== null &&
      BigInt(kv.create_revision) === grant.token &&
      kv.value.toString() === grant.holder;
    return ours ? kv : null;
  }

  protected async get(key: Buffer, deadline: Date): Promise<IKeyValue | null> {
    const { kvs } = await this.client.kv.range({ key }, { deadline });
    return kvs[0] ?? null;
  }

  protected async revoke(id: string, deadline: Date): Promise<void> {
    try {
      await this.client.leaseClient.leaseRevoke({ ID: id }, { deadline });
    } catch (error) {
      // already gone (expired, or revoked by an earlier release): released is released
      if (!(error instanceof EtcdLeaseInvalidError)) throw error;
    }
  }

  protected holderIn(kv: IKeyValue): string {
    const text = kv.value.toString();
    let holder: unknown;
    try {
      holder = (JSON.parse(text) as { holder?: unknown } | null)?.holder;
    } catch {
      holder = undefined;
    }
    if (typeof holder !== 'string') {
      throw new LeaseError(
        'LEASE_CORRUPT',
        `nvrelay: etcd key ${kv.key.toString()} is corrupt: ${JSON.stringify(text.slice(0, 80))}`,
      );
    }
    return holder;
  }

  /** Runs `body` with a deadline, within the timeout, as LEASE_UNAVAILABLE on failure. */
  protected async call<T>(what: string, body: (deadline: Date) => Promise<T>): Promise<T> {
    if (this.closed) throw new LeaseError('LEASE_CLOSED', `nvrelay: etcd leases closed (${what})`);
    const deadline = new Date(Date.now() + this.timeoutMs);
    return withinTimeout(`etcd: ${what}`, this.timeoutMs, () => body(deadline));
  }
}

function lastValue(holder: string): string {
  return JSON.stringify({ holder });
}

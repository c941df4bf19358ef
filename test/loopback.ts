/** Loopback ports for the tests that start real servers (etcd, redis-server, rsyslog). */
import { createServer, type AddressInfo } from 'node:net';

/** A loopback port free a moment ago (the test binds it soon after). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * redis-server processes for the redis-stream tests: started on 127.0.0.1 with the given
 * settings, resolved once they accept connections (within 10 s), killed by the caller.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export const redisBinary = '/usr/bin/redis-server';

export async function spawnRedis(args: readonly string[]): Promise<ChildProcess> {
  const child = spawn(redisBinary, ['--bind', '127.0.0.1', '--save', '', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server not ready:\n${output}`)), 10_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (/ready to accept connections/i.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${signal ?? code}):\n${output}`));
    });
  });
  return child;
}

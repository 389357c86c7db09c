/**
 * A redis-server of the test's own: on 127.0.0.1, a free port, nothing saved to disk, stopped by
 * its PID. Installed by scripts/install-redis.sh (Debian's package) when none is on PATH.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, Socket } from 'node:net';
import * as path from 'node:path';

export interface RedisServer {
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

const repo = path.resolve(__dirname, '..');

function ensureInstalled(): void {
  if (spawnSync('redis-server', ['--version']).status === 0) return;
  const install = spawnSync('bash', [path.join(repo, 'scripts/install-redis.sh')], { stdio: 'inherit' });
  if (install.status !== 0) throw new Error('redis-server is not installed and scripts/install-redis.sh failed (see above)');
}

/** A port nobody listens on right now (the OS's choice). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** Resolves once the server accepts connections; rejects when it exits first. */
async function accepting(child: ChildProcess, port: number): Promise<void> {
  let exited: string | undefined;
  child.once('exit', (code, signal) => (exited = `redis-server exited (${signal ?? code}) before accepting connections`));
  for (;;) {
    if (exited) throw new Error(exited);
    const connected = await new Promise<boolean>((resolve) => {
      const socket = new Socket();
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
      socket.connect(port, '127.0.0.1');
    });
    if (connected) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function startRedis(): Promise<RedisServer> {
  ensureInstalled();
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], {
    stdio: 'ignore',
  });
  await accepting(child, port);
  const pid = child.pid!;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      process.kill(pid, 'SIGTERM');
      await exited;
    },
  };
}

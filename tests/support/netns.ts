/**
 * A network namespace joined to this machine by a veth pair (Linux, root or CAP_NET_ADMIN): a process started with
 * `ip netns exec <name>` has a network stack of its own (its own loopback, no route to anything but the host end of
 * the pair), as on a second machine. Names and the /24 are random per call, so concurrent runs never collide;
 * `remove()` deletes the namespace and both ends of the pair and may be called any number of times.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';

export interface Netns {
  name: string;
  /** The host end's address (listen here to be reachable from the namespace), e.g. 10.123.45.1 */
  hostIp: string;
  /** The namespace end's address, e.g. 10.123.45.2 */
  nsIp: string;
  /** The pair's network, e.g. 10.123.45.0/24 */
  cidr: string;
  /** argv prefix that runs a command inside the namespace. */
  exec: string[];
  remove(): void;
}

function ip(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}`.trim() };
}

/** A fresh namespace and veth pair; throws, saying why, when the machine does not allow it (e.g. not root). */
export function createNetns(): Netns {
  const id = randomBytes(3).toString('hex');
  const name = `rolyplay-${id}`;
  const host = `rpa-${id}`; // interface names: at most 15 characters
  const peer = `rpb-${id}`;
  // A /24 that no interface of this machine is on.
  const used = ip(['-4', '-o', 'addr', 'show']).out;
  let net = '';
  for (let k = 0; k < 50 && !net; k++) {
    const candidate = `10.${randomInt(100, 255)}.${randomInt(0, 255)}`;
    if (!used.includes(` ${candidate}.`)) net = candidate;
  }
  if (!net) throw new Error('no free 10.x.y.0/24 for the veth pair');
  let made = false;
  const remove = () => {
    // Deleting the namespace deletes the end inside it, and with it the pair; the host end too if it was never moved.
    if (made) ip(['netns', 'del', name]);
    ip(['link', 'del', host]);
    made = false;
  };
  const step = (args: string[]) => {
    const r = ip(args);
    if (!r.ok) {
      remove();
      const uid = process.getuid?.();
      throw new Error(
        `cannot set up a network namespace: \`ip ${args.join(' ')}\` failed: ${r.out || 'no output'}` +
          (uid === 0 ? '' : ` (running as uid ${uid}: network namespaces and veth pairs need root or CAP_NET_ADMIN)`),
      );
    }
  };
  step(['netns', 'add', name]);
  made = true;
  step(['link', 'add', host, 'type', 'veth', 'peer', 'name', peer]);
  step(['link', 'set', peer, 'netns', name]);
  step(['addr', 'add', `${net}.1/24`, 'dev', host]);
  step(['link', 'set', host, 'up']);
  step(['netns', 'exec', name, 'ip', 'addr', 'add', `${net}.2/24`, 'dev', peer]);
  step(['netns', 'exec', name, 'ip', 'link', 'set', peer, 'up']);
  step(['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
  return { name, hostIp: `${net}.1`, nsIp: `${net}.2`, cidr: `${net}.0/24`, exec: ['ip', 'netns', 'exec', name], remove };
}

/** Whether a TCP connection to host:port succeeds from inside the namespace (node, within 3 s): 'open' or the error code. */
export function tcpFrom(ns: Netns, host: string, port: number): string {
  const script = `const s=require('net').connect(${port},${JSON.stringify(host)});s.setTimeout(3000,()=>{console.log('ETIMEDOUT');process.exit(0)});s.on('connect',()=>{console.log('open');process.exit(0)});s.on('error',(e)=>{console.log(e.code);process.exit(0)})`;
  const r = spawnSync(ns.exec[0] as string, [...ns.exec.slice(1), process.execPath, '-e', script], { encoding: 'utf8', timeout: 15_000 });
  return (r.stdout || r.stderr || String(r.error)).trim();
}

/** Interfaces inside the namespace, by name. */
export function linksIn(ns: Netns): string[] {
  const r = ip(['netns', 'exec', ns.name, 'ip', '-o', 'link', 'show']);
  return r.out
    .split('\n')
    .map((l) => /^\d+:\s+([^:@]+)/.exec(l)?.[1])
    .filter((x): x is string => !!x);
}

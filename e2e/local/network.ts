import { execFile, execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import fs from 'node:fs';

/**
 * Pod networking for the local cluster. Where root allows it, each pod gets its own network
 * namespace `lc-<x>-<n>` with an `eth0` in 10.213.<x>.0/24 on a host bridge `lcbr-<x>`
 * (10.213.<x>.1), the way a CNI plugin wires pods to a node; otherwise (not root, no `ip`, EPERM,
 * or E2E_NETNS=0) each pod gets its own loopback address 127.<a>.<b>.<n>. Either way every pod
 * binds the chart's ports on its own address.
 *
 * Everything created here (bridge, veths, namespaces) is torn down by `close()` and, when the
 * harness exits without it, by a synchronous process 'exit' hook. Leftovers of a crashed run are
 * removed at the next start: the bridge's ifalias names the owning process; names whose `<x>` has
 * no bridge owned by a live process are stale.
 */
export interface PodAddress {
  readonly ip: string;
  /** The network namespace the pod's process runs in (namespaces mode only). */
  readonly netns?: string;
}

export interface NetworkInfo {
  readonly mode: 'namespaces' | 'loopback';
  /** The pods' subnet (CIDR). */
  readonly subnet: string;
  /** Namespaces mode: the bridge and its (host) address, where pods reach PostgreSQL and the upstream. */
  readonly bridge?: string;
  readonly hostIp?: string;
  /** Loopback mode: why namespaces were not used. */
  readonly reason?: string;
}

const PREFIX = '10.213';
const ALIAS = 'lastcall-e2e pid=';
export const IP_BIN = process.env.IP_BIN ?? 'ip';
const IP = IP_BIN;

function ipSync(args: string[], input?: string): string {
  return execFileSync(IP, args, { input, stdio: ['pipe', 'pipe', 'pipe'], timeout: 30_000 }).toString();
}

function sh(script: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('sh', ['-ec', script], { timeout: 30_000 }, (err, _out, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`.trim())) : resolve(),
    );
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Our names: bridge lcbr-<x>, host veths lcv<x>-<n>, namespaces lc-<x>-<n>. */
const LINK_RE = /^lc(?:br-|v)(\d{1,3})(?:-\d+)?$/;
const NS_RE = /^lc-(\d{1,3})-\d+$/;

function ourLinks(): string[] {
  return fs.readdirSync('/sys/class/net').filter((n) => LINK_RE.test(n));
}

function ourNamespaces(): string[] {
  let out: string;
  try {
    out = ipSync(['netns', 'list']);
  } catch {
    return [];
  }
  return out
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => NS_RE.test(n));
}

function bridgeOwner(x: string): number | undefined {
  try {
    const alias = fs.readFileSync(`/sys/class/net/lcbr-${x}/ifalias`, 'utf8').trim();
    return alias.startsWith(ALIAS) ? Number(alias.slice(ALIAS.length)) : undefined;
  } catch {
    return undefined;
  }
}

/** Removes bridges, veths and namespaces left by runs whose process is gone. Returns what it removed. */
function removeStale(): string[] {
  const links = ourLinks();
  const namespaces = ourNamespaces();
  const xs = new Set([...links.map((n) => LINK_RE.exec(n)![1]!), ...namespaces.map((n) => NS_RE.exec(n)![1]!)]);
  const removed: string[] = [];
  for (const x of xs) {
    const hasBridge = links.includes(`lcbr-${x}`);
    const owner = bridgeOwner(x);
    // A bridge without an alias is a run between `link add` and `link set alias`: not ours to judge.
    if (hasBridge && owner === undefined) continue;
    if (owner !== undefined && alive(owner)) continue;
    const mine = [
      ...namespaces.filter((n) => NS_RE.exec(n)![1] === x).map((n) => `netns del ${n}`),
      ...links.filter((n) => LINK_RE.exec(n)![1] === x && !n.startsWith('lcbr-')).map((n) => `link del ${n}`),
    ];
    if (hasBridge) mine.push(`link del lcbr-${x}`);
    batch(mine);
    removed.push(...mine);
  }
  return removed;
}

function batch(commands: string[]): void {
  if (commands.length === 0) return;
  try {
    ipSync(['-force', '-batch', '-'], commands.join('\n') + '\n');
  } catch {
    /* -force: every command was tried; the ones that failed had nothing left to remove */
  }
}

export abstract class PodNetwork {
  abstract readonly info: NetworkInfo;
  /** The address pods use to reach services on the host (PostgreSQL, the upstream). */
  abstract readonly hostIp: string;
  /** A fresh address (and namespace) for a new pod; synchronous, for the controller loop. */
  abstract take(): PodAddress;
  /** The pod using `addr` is gone for good (its address may be reused later). */
  abstract release(addr: PodAddress): void;
  abstract close(): Promise<void>;

  /** One progress line: which networking mode runs. */
  describe(): string {
    const i = this.info;
    return i.mode === 'namespaces'
      ? `network: namespaces (${i.subnet}; bridge ${i.bridge} ${i.hostIp}; a namespace and veth per pod)`
      : `network: loopback addresses (${i.subnet}; ${i.reason})`;
  }

  /**
   * Namespaces when root and `ip netns add` works (E2E_NETNS=0: never; E2E_NETNS=1: required),
   * otherwise loopback addresses.
   */
  static async create(spare: number): Promise<PodNetwork> {
    const want = process.env.E2E_NETNS;
    if (want === '0') return new LoopbackNetwork('E2E_NETNS=0');
    let reason: string;
    if (process.getuid?.() !== 0) {
      reason = 'namespaces need root';
    } else {
      try {
        return await NamespaceNetwork.start(spare);
      } catch (err) {
        reason = `namespaces unavailable: ${((err as Error).message.split('\n').find((l) => l.trim() && !l.startsWith('Command failed')) ?? (err as Error).message).trim()}`;
      }
    }
    if (want === '1') throw new Error(`E2E_NETNS=1 but ${reason}`);
    return new LoopbackNetwork(reason);
  }
}

/** Today's fallback: a 127.0.0.0/8 address per pod. */
class LoopbackNetwork extends PodNetwork {
  readonly info: NetworkInfo;
  readonly hostIp = '127.0.0.1';
  private readonly base = `127.${randomInt(100, 250)}.${randomInt(1, 250)}`;
  private next = 10;

  constructor(reason: string) {
    super();
    this.info = { mode: 'loopback', subnet: `${this.base}.0/24`, reason };
  }

  take(): PodAddress {
    if (this.next > 254) throw new Error(`no address left in ${this.info.subnet}`);
    return { ip: `${this.base}.${this.next++}` };
  }

  release(): void {}

  async close(): Promise<void> {}
}

/** A bridge on the host, a namespace and a veth pair per pod. */
class NamespaceNetwork extends PodNetwork {
  readonly info: NetworkInfo;
  readonly hostIp: string;
  private readonly bridge: string;
  /** Namespaces made ahead of time, so that `take()` never blocks the harness on `ip`. */
  private readonly pool: PodAddress[] = [];
  private readonly created = new Set<string>();
  private readonly freeHosts: number[] = [];
  private nextHost = 10;
  private nextIndex = 1;
  private filling: Promise<void> | undefined;
  private closed = false;
  private readonly exitHook = () => this.teardownSync();

  private constructor(
    private readonly x: number,
    private readonly spare: number,
  ) {
    super();
    this.bridge = `lcbr-${x}`;
    this.hostIp = `${PREFIX}.${x}.1`;
    this.info = { mode: 'namespaces', subnet: `${PREFIX}.${x}.0/24`, bridge: this.bridge, hostIp: this.hostIp };
  }

  static async start(spare: number): Promise<NamespaceNetwork> {
    removeStale();
    // Probe: can we make a namespace at all (root in a container may still get EPERM)?
    const probe = `lcprobe-${process.pid}`;
    ipSync(['netns', 'add', probe]);
    ipSync(['netns', 'del', probe]);
    // A /24 nobody on this host uses (a concurrent run, or anything else).
    const used = ipSync(['-o', 'addr', 'show']) + ipSync(['route', 'show', 'table', 'all']);
    const taken = new Set(ourLinks().map((n) => LINK_RE.exec(n)![1]));
    let x = 0;
    for (let i = 0; i < 50 && !x; i++) {
      const c = randomInt(2, 254);
      if (!taken.has(String(c)) && !used.includes(`${PREFIX}.${c}.`)) x = c;
    }
    if (!x) throw new Error(`no free ${PREFIX}.x.0/24`);
    const net = new NamespaceNetwork(x, spare);
    process.once('exit', net.exitHook);
    try {
      ipSync(['link', 'add', 'name', net.bridge, 'type', 'bridge', 'forward_delay', '0']);
      ipSync(['link', 'set', 'dev', net.bridge, 'alias', `${ALIAS}${process.pid}`]);
      ipSync(['addr', 'add', `${net.hostIp}/24`, 'dev', net.bridge]);
      ipSync(['link', 'set', 'dev', net.bridge, 'up']);
      await net.fill();
    } catch (err) {
      net.teardownSync();
      throw err;
    }
    return net;
  }

  take(): PodAddress {
    if (this.closed) throw new Error('pod network closed');
    let addr = this.pool.shift();
    if (!addr) {
      // The pool ran dry (many pods at once): make one synchronously.
      const { addr: a, script } = this.plan();
      execFileSync('sh', ['-ec', script], { stdio: 'ignore', timeout: 30_000 });
      this.created.add(a.netns!);
      addr = a;
    }
    void this.fill();
    return addr;
  }

  release(addr: PodAddress): void {
    if (this.closed || !addr.netns || !this.created.has(addr.netns)) return;
    this.created.delete(addr.netns);
    // Deleting the namespace destroys its veth pair too; the address goes back last in line.
    void sh(`${IP} netns del ${addr.netns}`).then(
      () => this.freeHosts.push(Number(addr.ip.split('.')[3])),
      () => undefined,
    );
  }

  async close(): Promise<void> {
    await this.filling?.catch(() => undefined);
    this.teardownSync();
  }

  private plan(): { addr: PodAddress; script: string } {
    const host = this.nextHost <= 254 ? this.nextHost++ : this.freeHosts.shift();
    if (host === undefined) throw new Error(`no address left in ${this.info.subnet}`);
    const n = this.nextIndex++;
    const ns = `lc-${this.x}-${n}`;
    const veth = `lcv${this.x}-${n}`;
    const ip = `${PREFIX}.${this.x}.${host}`;
    const script = [
      `${IP} netns add ${ns}`,
      `${IP} link add ${veth} type veth peer name eth0 netns ${ns}`,
      `${IP} link set ${veth} master ${this.bridge} up`,
      `${IP} -n ${ns} addr add ${ip}/24 dev eth0`,
      `${IP} -n ${ns} link set eth0 up`,
      `${IP} -n ${ns} link set lo up`,
      `${IP} -n ${ns} route add default via ${this.hostIp}`,
    ].join('\n');
    return { addr: { ip, netns: ns }, script };
  }

  private fill(): Promise<void> {
    this.filling ??= (async () => {
      try {
        while (!this.closed && this.pool.length < this.spare) {
          const { addr, script } = this.plan();
          this.created.add(addr.netns!);
          await sh(script);
          if (this.closed) return;
          this.pool.push(addr);
        }
      } finally {
        this.filling = undefined;
      }
    })();
    return this.filling;
  }

  /** Synchronous, for the 'exit' hook too: namespaces (and their veths), host veths, the bridge. */
  private teardownSync(): void {
    if (this.closed) return;
    this.closed = true;
    process.off('exit', this.exitHook);
    const x = String(this.x);
    const namespaces = ourNamespaces().filter((n) => NS_RE.exec(n)![1] === x);
    const veths = ourLinks().filter((n) => LINK_RE.exec(n)![1] === x && !n.startsWith('lcbr-'));
    batch([...namespaces.map((n) => `netns del ${n}`), ...veths.map((n) => `link del ${n}`), `link del ${this.bridge}`]);
  }
}

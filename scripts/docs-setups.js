// Setup recipes for `npm run docs` (scripts/docs.js): the servers a documented command needs, named by
// a marker's `setup="..."` (comma-separated, started in order). Everything listens on loopback only,
// runs as our child under `timeout` (so it dies within LIFETIME_S even if this script is killed), and
// is stopped by pid. A recipe returns nothing; what it starts is registered with `ctx.spawn`.
//
// Addresses are fixed (the docs show them): 127.0.91.0/24 for these recipes, plus the few the pages
// name (127.0.0.1:18391, 127.0.88.1:18180, 127.0.0.1:19100/19110). A port in use fails the setup with
// one line.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** No setup process lives longer than this, whatever happens to the script. */
export const LIFETIME_S = 300;

/** Waits until host:port accepts a TCP connection (bounded). */
export async function waitListening(host, port, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect({ host, port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The pids of a process's children (Linux /proc), [] when unknown. */
function childPids(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Waits until a setup's output file matches re (bounded). */
async function waitForText(file, re, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  while (!re.test(existsSync(file) ? readFileSync(file, 'utf8') : '')) {
    if (Date.now() > deadline) throw new Error(`${path.basename(file)} did not print ${re} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Fails when something already listens there (a leftover, or another user of the port). */
async function assertFree(host, port) {
  const busy = await new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (busy) throw new Error(`${host}:${port} is already in use (a leftover process? find it with ss -ltnp)`);
}

/**
 * The processes of one block's setups: `spawn(name, argv, {log})` starts argv under `timeout`, its
 * stdout and stderr into ctx.dir/<name>.out and .err (the marker's commands can read them through
 * $LBDIAG_DOCS_TMP); `stop()` ends them all by pid (SIGTERM, SIGKILL after 5 s).
 */
export function setupContext(root, dir, env) {
  const children = [];
  const cleanups = [];
  const ctx = {
    root,
    dir,
    env,
    lbdiag: (args) => [process.execPath, path.join(root, 'bin', 'lbdiag.js'), ...args],
    spawn(name, argv) {
      const out = openSync(path.join(dir, `${name}.out`), 'w');
      const err = openSync(path.join(dir, `${name}.err`), 'w');
      const child = spawn('timeout', ['-k', '5', String(LIFETIME_S), ...argv], { cwd: root, env, stdio: ['ignore', out, err] });
      closeSync(out);
      closeSync(err);
      const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
      children.push({ name, child, exited });
      return child;
    },
    async stop() {
      for (const { child, exited } of children.reverse()) {
        if (child.exitCode !== null || child.signalCode !== null) continue;
        // SIGTERM twice, to the server itself (the child of `timeout`, by pid): a whoami drains on the
        // first and exits at once on the second.
        for (const delay of [0, 300]) {
          await new Promise((r) => setTimeout(r, delay));
          if (child.exitCode !== null || child.signalCode !== null) break;
          for (const pid of [...childPids(child.pid), child.pid]) {
            try {
              process.kill(pid, 'SIGTERM');
            } catch {
              /* gone */
            }
          }
        }
        const timer = setTimeout(() => {
          try {
            process.kill(child.pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }, 5000);
        await exited;
        clearTimeout(timer);
      }
      children.length = 0;
      for (const fn of cleanups.splice(0).reverse()) await fn();
    },
    pids: () => children.map((c) => c.child.pid),
    /** Runs fn at stop(), after the processes are stopped (namespaces a recipe made). */
    onStop(fn) {
      cleanups.push(fn);
    },
  };
  return ctx;
}

async function whoami(ctx, name, host, port, extra = ['--drain-delay', '0']) {
  await assertFree(host, port);
  ctx.spawn(`whoami-${name}-${host}`, ctx.lbdiag(['whoami', '--name', name, '-H', host, '--port', String(port), ...extra]));
  // Ready when its banner is out: no probe connection, so the documented requests get conn 1, 2, ...
  await waitForText(path.join(ctx.dir, `whoami-${name}-${host}.out`), /listening/);
}

/** haproxy in the foreground (-db) with the given frontend/backend lines, as our child. */
async function haproxy(ctx, name, host, port, body) {
  await assertFree(host, port);
  const cfg = path.join(ctx.dir, `${name}.cfg`);
  writeFileSync(
    cfg,
    [
      'global',
      '    maxconn 1000',
      'defaults',
      '    timeout connect 5s',
      '    timeout client 60s',
      '    timeout server 60s',
      ...body,
      '',
    ].join('\n'),
  );
  const bin = ['/usr/sbin/haproxy', '/usr/bin/haproxy', '/usr/local/sbin/haproxy'].find((p) => existsSync(p));
  if (!bin) throw new Error('haproxy is not installed (apt-get install haproxy)');
  ctx.spawn(name, [bin, '-f', cfg, '-db']);
  await waitListening(host, port);
}

/** Three whoami named a, b, c (or the given names) on 127.0.91.2, .3, .4 port 18080. */
async function threeBackends(ctx, names) {
  for (const [i, n] of names.entries()) await whoami(ctx, n, `127.0.91.${2 + i}`, 18080);
  return names.map((n, i) => `    server ${n} 127.0.91.${2 + i}:18080`);
}

/**
 * docs/pcap.md's damaged inputs, written into the block's scratch directory: capture.pcap.gz (a gzip
 * whose first record claims 2^31-1 bytes), cut.pcap.gz (a gzip capture cut at 60 %), big.pcapng (one
 * section of 5,000,000 interface description blocks, 100 MB, no packet).
 */
function damagedCaptures(ctx) {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262144, 16);
  header.writeUInt32LE(1, 20);
  const record = Buffer.alloc(16 + 64);
  record.writeUInt32LE(1796100000, 0);
  record.writeUInt32LE(0x7fffffff, 8);
  record.writeUInt32LE(0x7fffffff, 12);
  writeFileSync(path.join(ctx.dir, 'capture.pcap.gz'), gzipSync(Buffer.concat([header, record])));
  const whole = gzipSync(readFileSync(path.join(ctx.root, 'fixtures', 'whoami-haproxy.pcap')));
  writeFileSync(path.join(ctx.dir, 'cut.pcap.gz'), whole.subarray(0, Math.floor(whole.length * 0.6)));
  const n = 5_000_000;
  const big = Buffer.alloc(28 + 20 * n);
  big.writeUInt32LE(0x0a0d0d0a, 0);
  big.writeUInt32LE(28, 4);
  big.writeUInt32LE(0x1a2b3c4d, 8);
  big.writeUInt16LE(1, 12);
  big.writeUInt16LE(0, 14);
  big.writeBigInt64LE(-1n, 16);
  big.writeUInt32LE(28, 24);
  for (let k = 0, o = 28; k < n; k++, o += 20) {
    big.writeUInt32LE(1, o);
    big.writeUInt32LE(20, o + 4);
    big.writeUInt16LE(1, o + 8);
    big.writeUInt32LE(20, o + 16);
  }
  writeFileSync(path.join(ctx.dir, 'big.pcapng'), big);
}

/**
 * A network namespace (the lab's own helper, src/lab/netns.ts: a veth pair, a /30, deleted at stop)
 * with `lbdiag whoami --name web-a` inside on its address port 8080, and the namespace's
 * ip_local_port_range narrowed to 40000-40007 (a namespace-only sysctl). The block's commands get
 * $LBDIAG_DOCS_NETNS (run a client inside with `ip netns exec $LBDIAG_DOCS_NETNS ...`) and
 * $LBDIAG_DOCS_VIP (address:port of the whoami). Root and iproute2 only.
 */
async function narrowPortsNamespace(ctx) {
  const { canUseNetns, createStallTopology } = await import(pathToFileURL(path.join(ctx.root, 'dist', 'src', 'lab', 'netns.js')).href);
  const ok = canUseNetns();
  if (!ok.ok) throw new Error(`needs network namespaces: ${ok.reason}`);
  const topo = await createStallTopology({
    stall: false,
    backendCommand: (host, port) => ({ command: process.execPath, args: [path.join(ctx.root, 'bin', 'lbdiag.js'), 'whoami', '--name', 'web-a', '-H', host, '--port', String(port), '--drain-delay', '0'] }),
  });
  ctx.onStop(() => topo.teardown());
  topo.ns.exec('/bin/sh', ['-c', 'echo "40000 40007" > /proc/sys/net/ipv4/ip_local_port_range']);
  ctx.env.LBDIAG_DOCS_NETNS = topo.ns.name;
  ctx.env.LBDIAG_DOCS_VIP = `${topo.backend.host}:${topo.backend.port}`;
}

/**
 * A network namespace lbdocs-<name>-<pid> with lo up, deleted at stop; `inNs(argv)` runs a command
 * in it and throws with its first stderr line when it fails.
 */
async function loopbackNamespace(ctx, name) {
  const { spawnSync } = await import('node:child_process');
  const run = (args) => {
    const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${args.join(' ')}: ${(r.stderr || '').trim().split('\n')[0]}`);
  };
  const ns = `lbdocs-${name}-${process.pid}`;
  run(['ip', 'netns', 'add', ns]);
  ctx.onStop(() => void spawnSync('ip', ['netns', 'del', ns]));
  const inNs = (args) => run(['ip', 'netns', 'exec', ns, ...args]);
  inNs(['ip', 'link', 'set', 'lo', 'up']);
  return { ns, inNs };
}

/**
 * docs/findings.md's refused connection whose RST is lost: a network namespace of its own (loopback
 * only) where iptables REJECTs (tcp-reset) SYNs to port 81 and DROPs that RST on input; tcpdump
 * captures lo while a client connects from port 40404 twice (2.5 s each, so the SYN is sent again).
 * Leaves $LBDIAG_DOCS_TMP/refused.pcap; the namespace is deleted at stop. Root, iproute2, iptables
 * and tcpdump only (as test/pcap-refused-retry.test.ts makes it).
 */
async function refusedCapture(ctx) {
  const { ns, inNs } = await loopbackNamespace(ctx, 'refused');
  inNs(['iptables', '-A', 'INPUT', '-p', 'tcp', '--dport', '81', '--tcp-flags', 'SYN,ACK,RST', 'SYN', '-j', 'REJECT', '--reject-with', 'tcp-reset']);
  inNs(['iptables', '-A', 'INPUT', '-p', 'tcp', '--sport', '81', '--tcp-flags', 'RST', 'RST', '-j', 'DROP']);
  const file = path.join(ctx.dir, 'refused.pcap');
  const dump = ctx.spawn('tcpdump', ['ip', 'netns', 'exec', ns, 'tcpdump', '-i', 'lo', '-U', '-w', file, 'tcp port 81']);
  await waitForText(path.join(ctx.dir, 'tcpdump.err'), /listening on/);
  const client = `const net = require('net'); let n = 0;
    const go = () => { const s = net.connect({ host: '127.0.0.1', port: 81, localPort: 40404 }); s.on('error', () => {});
      setTimeout(() => { s.destroy(); if (++n < 2) setTimeout(go, 300); }, 2500); };
    go();`;
  inNs([process.execPath, '-e', client]);
  await new Promise((r) => setTimeout(r, 300));
  process.kill(dump.pid, 'SIGINT'); // `timeout` passes it on; tcpdump writes its buffer and exits
  await new Promise((resolve) => (dump.exitCode !== null ? resolve() : dump.once('exit', resolve)));
}

/**
 * docs/findings.md's late answer: a network namespace of its own (loopback only); tcpdump captures lo
 * while a client sends two HTTP/1.1 requests on one connection to a server on 127.0.0.1:8080 that
 * answers the first at once and the second 1.3 s later (raw sockets: no TCP keep-alive probe inside
 * the wait). Leaves $LBDIAG_DOCS_TMP/late-answer.pcap (as test/pcap-stall-requester.test.ts makes its
 * TLS one); the namespace is deleted at stop.
 */
async function lateAnswerCapture(ctx) {
  const { ns, inNs } = await loopbackNamespace(ctx, 'late');
  const file = path.join(ctx.dir, 'late-answer.pcap');
  // --immediate-mode: without it the last packets can still be in the kernel's buffer at the SIGINT (2 runs in 4 lost the answer).
  const dump = ctx.spawn('tcpdump', ['ip', 'netns', 'exec', ns, 'tcpdump', '-i', 'lo', '--immediate-mode', '-U', '-w', file, 'tcp port 8080']);
  await waitForText(path.join(ctx.dir, 'tcpdump.err'), /listening on/);
  const script = `const net = require('net');
    const REQ = (p) => 'GET ' + p + ' HTTP/1.1\\r\\nhost: app\\r\\n\\r\\n';
    const OK = 'HTTP/1.1 200 OK\\r\\ncontent-length: 3\\r\\n\\r\\nok\\n';
    const srv = net.createServer((s) => { let n = 0; s.on('data', () => { if (++n === 1) s.write(OK); else setTimeout(() => s.end(OK), 1300); }); });
    srv.listen(8080, '127.0.0.1', () => {
      const c = net.connect(8080, '127.0.0.1', () => c.write(REQ('/')));
      let n = 0;
      c.on('data', () => { if (++n === 1) setTimeout(() => c.write(REQ('/report')), 100); });
      c.on('end', () => c.end());
      c.on('close', () => srv.close(() => process.exit(0)));
    });
    setTimeout(() => process.exit(3), 15000);`;
  inNs([process.execPath, '-e', script]);
  await new Promise((r) => setTimeout(r, 300));
  process.kill(dump.pid, 'SIGINT'); // `timeout` passes it on; tcpdump writes its buffer and exits
  await new Promise((resolve) => (dump.exitCode !== null ? resolve() : dump.once('exit', resolve)));
}

/**
 * docs/findings.md's gateway pool (as test/probe-upstream-pool.test.ts builds it): a namespace
 * lbdocs-pool-<pid> (loopback only) where nginx on 127.0.0.1:8000 proxies with upstream keepalive to
 * one address, 10.96.0.10:80, that iptables DNAT spreads per connection (kube-proxy's `statistic`
 * rules) over whoami pod1..pod3; once a probe has filled nginx's pool, pod4 joins the VIP ("the
 * autoscaler added a pod"). $LBDIAG_DOCS_NETNS names the namespace; deleted at stop.
 */
async function proxyPoolNamespace(ctx) {
  const { spawnSync } = await import('node:child_process');
  const { ns, inNs } = await loopbackNamespace(ctx, 'pool');
  inNs(['ip', 'addr', 'add', '10.96.0.10/32', 'dev', 'lo']);
  const dnat = (i, p) => ['-p', 'tcp', ...(p === undefined ? [] : ['-m', 'statistic', '--mode', 'random', '--probability', String(p)]), '-j', 'DNAT', '--to-destination', `127.0.0.1${i}:8080`];
  inNs(['iptables', '-w', '-t', 'nat', '-N', 'SVC']);
  inNs(['iptables', '-w', '-t', 'nat', '-A', 'OUTPUT', '-d', '10.96.0.10', '-p', 'tcp', '--dport', '80', '-j', 'SVC']);
  inNs(['iptables', '-w', '-t', 'nat', '-A', 'SVC', ...dnat(1, 0.33333)]);
  inNs(['iptables', '-w', '-t', 'nat', '-A', 'SVC', ...dnat(2, 0.5)]);
  inNs(['iptables', '-w', '-t', 'nat', '-A', 'SVC', ...dnat(3)]);
  for (const i of [1, 2, 3, 4]) ctx.spawn(`pod${i}`, ['ip', 'netns', 'exec', ns, ...ctx.lbdiag(['whoami', '--name', `pod${i}`, '-H', `127.0.0.1${i}`, '--port', '8080', '--idle-timeout', '0', '--drain-delay', '0'])]);
  for (const i of [1, 2, 3, 4]) await waitForText(path.join(ctx.dir, `pod${i}.out`), /listening/);
  const cfg = path.join(ctx.dir, 'nginx-pool.conf');
  const t = (name) => path.join(ctx.dir, name);
  writeFileSync(
    cfg,
    [
      'daemon off;',
      'worker_processes 1;',
      `pid ${t('nginx-pool.pid')};`,
      'error_log stderr warn;',
      'events { worker_connections 1024; }',
      'http {',
      '  access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((n) => `  ${n}_temp_path ${t(n)};`),
      '  upstream svc { server 10.96.0.10:80; keepalive 16; keepalive_timeout 600s; keepalive_requests 100000; }',
      '  server { listen 127.0.0.1:8000; location / { proxy_pass http://svc; proxy_http_version 1.1; proxy_set_header Connection ""; } }',
      '}',
      '',
    ].join('\n'),
  );
  ctx.spawn('nginx-pool', ['ip', 'netns', 'exec', ns, 'nginx', '-c', cfg, '-p', ctx.dir]);
  for (const t0 = Date.now(); spawnSync('ip', ['netns', 'exec', ns, 'ss', '-Hltn', 'sport = :8000'], { encoding: 'utf8' }).stdout.trim() === ''; ) {
    if (Date.now() - t0 > 10_000) throw new Error('nginx did not listen on 127.0.0.1:8000 in the namespace');
    await new Promise((r) => setTimeout(r, 50));
  }
  // Fill the pool, then scale up.
  inNs([...ctx.lbdiag(['probe', '127.0.0.1:8000', '--mode', 'keepalive', '-n', '200', '-c', '4', '--json'])]);
  inNs(['iptables', '-w', '-t', 'nat', '-I', 'SVC', '1', ...dnat(4, 0.25)]);
  ctx.env.LBDIAG_DOCS_NETNS = ns;
}

/**
 * docs/merge.md's three client machines (as test/merge-netns.test.ts builds them): namespaces
 * lbdocs<pid>-c1..c3 (10.77.i.2, default route via 10.77.i.1) joined by veth pairs made inside the
 * namespaces (nothing appears in the root namespace) to a balancer namespace lbdocs<pid>-lb, whose
 * iptables DNAT sends VIP 10.99.9.2:80 to backend-i (lbdiag whoami on 10.99.0.i:8080) by the client's
 * source address. $LBDIAG_DOCS_NS_1..3 name the client namespaces. Deleted at stop.
 */
async function threeClientNamespaces(ctx) {
  const { spawnSync } = await import('node:child_process');
  const ip = (...args) => {
    const r = spawnSync('ip', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${(r.stderr || '').trim().split('\n')[0]}`);
  };
  const tag = `lbdocs${process.pid}`;
  const lb = `${tag}-lb`;
  const clients = [1, 2, 3].map((i) => ({ ns: `${tag}-c${i}`, addr: `10.77.${i}.2`, gw: `10.77.${i}.1`, lbIf: `${tag}l${i}`, cIf: `${tag}c${i}` }));
  for (const ns of [lb, ...clients.map((c) => c.ns)]) {
    ip('netns', 'add', ns);
    ctx.onStop(() => void spawnSync('ip', ['netns', 'del', ns]));
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
  for (const i of [1, 2, 3]) ip('-n', lb, 'addr', 'add', `10.99.0.${i}/32`, 'dev', 'lo');
  for (const c of clients) {
    ip('-n', lb, 'link', 'add', c.lbIf, 'type', 'veth', 'peer', 'name', c.cIf, 'netns', c.ns);
    ip('-n', lb, 'addr', 'add', `${c.gw}/24`, 'dev', c.lbIf);
    ip('-n', lb, 'link', 'set', c.lbIf, 'up');
    ip('-n', c.ns, 'addr', 'add', `${c.addr}/24`, 'dev', c.cIf);
    ip('-n', c.ns, 'link', 'set', c.cIf, 'up');
    ip('-n', c.ns, 'route', 'add', 'default', 'via', c.gw);
  }
  clients.forEach((c, i) => ip('netns', 'exec', lb, 'iptables', '-w', '-t', 'nat', '-A', 'PREROUTING', '-p', 'tcp', '-d', '10.99.9.2', '--dport', '80', '-s', c.addr, '-j', 'DNAT', '--to-destination', `10.99.0.${i + 1}:8080`));
  for (const i of [1, 2, 3]) {
    ctx.spawn(`backend-${i}`, ['ip', 'netns', 'exec', lb, ...ctx.lbdiag(['whoami', '-H', `10.99.0.${i}`, '--port', '8080', '--name', `backend-${i}`, '--drain-delay', '0'])]);
    await waitForText(path.join(ctx.dir, `backend-${i}.out`), /listening/);
  }
  clients.forEach((c, i) => (ctx.env[`LBDIAG_DOCS_NS_${i + 1}`] = c.ns));
}

/**
 * docs/probe.md's SNI router: a private CA (ca.pem in the block's directory) signs a.test and
 * b.test (+www.b.test), c.test is self-signed (certificates made as the tests make them,
 * dist/test/support/tls-backends.js); lbdiag whoami --tls alpha/bravo/charlie on 127.0.91.21-23:8443
 * hold them; haproxy `mode tcp` on 127.0.91.20:8443 routes by SNI (req.ssl_sni): a.test, b.test,
 * c.test to their backend, pool.test round robin over alpha and bravo.
 */
async function sniRouter(ctx) {
  const { makeCa, makeLeaf } = await import(pathToFileURL(path.join(ctx.root, 'dist', 'test', 'support', 'tls-backends.js')).href);
  const ca = await makeCa();
  writeFileSync(path.join(ctx.dir, 'ca.pem'), ca.cert);
  const leaves = { alpha: await makeLeaf({ names: ['a.test'], ca }), bravo: await makeLeaf({ names: ['b.test', 'www.b.test'], ca }), charlie: await makeLeaf({ names: ['c.test'] }) };
  const hosts = { alpha: '127.0.91.21', bravo: '127.0.91.22', charlie: '127.0.91.23' };
  for (const [name, pem] of Object.entries(leaves)) {
    writeFileSync(path.join(ctx.dir, `${name}.crt`), pem.cert);
    writeFileSync(path.join(ctx.dir, `${name}.key`), pem.key);
    await whoami(ctx, name, hosts[name], 8443, ['--tls', '--cert', path.join(ctx.dir, `${name}.crt`), '--key', path.join(ctx.dir, `${name}.key`), '--drain-delay', '0']);
  }
  await haproxy(ctx, 'haproxy-sni', '127.0.91.20', 8443, [
    'frontend sni_router',
    '    mode tcp',
    '    bind 127.0.91.20:8443',
    '    tcp-request inspect-delay 5s',
    '    tcp-request content accept if { req.ssl_hello_type 1 }',
    '    use_backend be_a if { req.ssl_sni -i a.test }',
    '    use_backend be_b if { req.ssl_sni -i b.test }',
    '    use_backend be_c if { req.ssl_sni -i c.test }',
    '    use_backend be_pool if { req.ssl_sni -i pool.test }',
    'backend be_a',
    '    mode tcp',
    `    server alpha ${hosts.alpha}:8443`,
    'backend be_b',
    '    mode tcp',
    `    server bravo ${hosts.bravo}:8443`,
    'backend be_c',
    '    mode tcp',
    `    server charlie ${hosts.charlie}:8443`,
    'backend be_pool',
    '    mode tcp',
    '    balance roundrobin',
    `    server alpha ${hosts.alpha}:8443`,
    `    server bravo ${hosts.bravo}:8443`,
  ]);
}

export const SETUPS = {
  /** docs/probe.md's haproxy SNI router over lbdiag whoami --tls backends: see sniRouter. */
  'haproxy-sni-router': sniRouter,
  /** docs/merge.md's three client namespaces and a DNAT balancer by source address: see threeClientNamespaces. */
  'netns-three-clients': threeClientNamespaces,
  /** docs/findings.md's refused-and-RST-lost capture: see refusedCapture. */
  'netns-refused-capture': refusedCapture,
  /** docs/findings.md's request answered 1.3 s late: see lateAnswerCapture. */
  'netns-late-answer-capture': lateAnswerCapture,
  /** docs/findings.md's local-port-exhaustion: see narrowPortsNamespace. */
  'netns-narrow-ports': narrowPortsNamespace,
  /** Gateway pool: nginx keepalive upstream -> DNAT-ed VIP -> whoami pod1..pod4 in a namespace (see proxyPoolNamespace). */
  'netns-proxy-pool': proxyPoolNamespace,
  /** Damaged captures for docs/pcap.md (see damagedCaptures). */
  'damaged-captures': async (ctx) => damagedCaptures(ctx),
  /** README: one whoami, `lbdiag whoami --port 18391 -H 127.0.0.1 --name web-a`. */
  'whoami-web-a': (ctx) => whoami(ctx, 'web-a', '127.0.0.1', 18391),
  /** docs/merge.md's mixed-targets: two services of one backend each, svc-a on 127.0.91.30:18090, svc-b on 127.0.91.31:18090. */
  'two-single-services': async (ctx) => {
    await whoami(ctx, 'svc-a', '127.0.91.30', 18090);
    await whoami(ctx, 'svc-b', '127.0.91.31', 18090);
  },
  /** docs/whoami.md: `web-1` on 127.0.91.10:18088 with --log (its log in $LBDIAG_DOCS_TMP/whoami-web-1-127.0.91.10.out). */
  'whoami-web-1': (ctx) => whoami(ctx, 'web-1', '127.0.91.10', 18088, ['--log']),
  /** haproxy `mode tcp` round robin on 127.0.88.1:18180 over whoami a, b, c. */
  'haproxy-tcp': async (ctx) => {
    const servers = await threeBackends(ctx, ['a', 'b', 'c']);
    await haproxy(ctx, 'haproxy-tcp', '127.0.88.1', 18180, ['frontend vip', '    mode tcp', '    bind 127.0.88.1:18180', '    default_backend pool', 'backend pool', '    mode tcp', '    balance roundrobin', ...servers]);
  },
  /** haproxy `mode http` round robin with X-Forwarded-For on 127.0.88.1:18181 over whoami a, b, c. */
  'haproxy-http': async (ctx) => {
    const servers = await threeBackends(ctx, ['a', 'b', 'c']);
    await haproxy(ctx, 'haproxy-http', '127.0.88.1', 18181, ['frontend vip', '    mode http', '    option forwardfor', '    bind 127.0.88.1:18181', '    default_backend pool', 'backend pool', '    mode http', '    balance roundrobin', ...servers]);
  },
  /** haproxy `mode tcp` round robin over four servers, the fourth a port nothing listens on, no health check. */
  'haproxy-dead-member': async (ctx) => {
    const servers = await threeBackends(ctx, ['a', 'b', 'c']);
    await assertFree('127.0.91.5', 18080);
    await haproxy(ctx, 'haproxy-dead', '127.0.88.1', 18182, ['frontend vip', '    mode tcp', '    bind 127.0.88.1:18182', '    default_backend pool', 'backend pool', '    mode tcp', '    balance roundrobin', ...servers, '    server d 127.0.91.5:18080']);
  },
  /**
   * Two generations of one backend name: whoami `app` on 127.0.91.6, then 1.5 s later another `app` on
   * .7, behind haproxy `mode tcp` round robin on 127.0.88.1:18183 (an old process that never left).
   */
  'haproxy-two-generations': async (ctx) => {
    await whoami(ctx, 'app', '127.0.91.6', 18080);
    await new Promise((r) => setTimeout(r, 1500));
    await whoami(ctx, 'app', '127.0.91.7', 18080);
    await haproxy(ctx, 'haproxy-gen', '127.0.88.1', 18183, ['frontend vip', '    mode tcp', '    bind 127.0.88.1:18183', '    default_backend pool', 'backend pool', '    mode tcp', '    balance roundrobin', '    server old 127.0.91.6:18080', '    server new 127.0.91.7:18080']);
  },
  /** docs/merge.md: haproxy `mode http` `balance source` on 127.0.0.1:19100 over whoami b1, b2, b3. */
  'haproxy-source': async (ctx) => {
    const servers = await threeBackends(ctx, ['b1', 'b2', 'b3']);
    await haproxy(ctx, 'haproxy-source', '127.0.0.1', 19100, ['frontend vip', '    mode http', '    bind 127.0.0.1:19100', '    default_backend pool', 'backend pool', '    mode http', '    balance source', ...servers]);
  },
  /** docs/merge.md: haproxy `mode tcp` round robin on 127.0.0.1:19110 over whoami b1, b2, b3. */
  'haproxy-tcp-b': async (ctx) => {
    const servers = await threeBackends(ctx, ['b1', 'b2', 'b3']);
    await haproxy(ctx, 'haproxy-tcp-b', '127.0.0.1', 19110, ['frontend vip', '    mode tcp', '    bind 127.0.0.1:19110', '    default_backend pool', 'backend pool', '    mode tcp', '    balance roundrobin', ...servers]);
  },
};

/**
 * `stall` (root and `ip netns` only): a middlebox that drops the first SYN of a reused source port,
 * as IPVS does with net.ipv4.vs.conn_reuse_mode=1 while the port's old connection is still in
 * TIME_WAIT (kube-proxy in IPVS mode), or a conntrack NAT whose old entry has not expired. The
 * client retransmits the SYN after its initial RTO, so those requests take ~1 s: stall-1s. A
 * capture taken meanwhile goes through `lbdiag pcap`, which names the dropped SYN on the reused
 * port: syn-port-reuse-drop.
 *
 * The namespace holds the backend (`lbdiag whoami`), the iptables rules and the client: the probe
 * runs inside it with its ephemeral port range narrowed and TIME_WAIT off (namespace-only sysctls),
 * so ports come back within a second as they do on a busy client or a shared SNAT address.
 * Nothing in the root namespace changes except our own veth end (netns.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Finding } from '../../core/finding.js';
import type { ProbeReport } from '../../probe/summary.js';
import type { LabContext } from '../context.js';
import { canUseNetns, createStallTopology } from '../netns.js';
import { sleep } from '../port-wait.js';
import type { SpawnedProcess } from '../supervisor.js';
import { findBinary, runSync } from '../tools.js';
import { ms, pct } from '../phrases.js';
import { judge, type PcapOutcome, type Scenario, type ScenarioResult } from '../scenario.js';

const LBDIAG_BIN = fileURLToPath(new URL('../../../../bin/lbdiag.js', import.meta.url));

/** The namespace's ephemeral ports: few enough that they recycle within the run. */
const PORT_LOW = 40000;
const PORTS = 12;
const CONCURRENCY = 4;
const DEFAULT_STALL_REQUESTS = 32;

const TITLE = 'a middlebox drops the first SYN of a reused source port: some requests take exactly ~1 s';
const FIX = 'keep-alive (fewer new connections), conn_reuse_mode / TIME_WAIT timeouts on the IPVS or NAT hop';

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) return false;
    await sleep(20);
  }
  return true;
}

function skippedResult(reason: string): ScenarioResult {
  return {
    name: 'stall',
    steps: [judge({ name: 'stall', step: 'direct', balancer: 'netns-syn-drop', expected: ['stall-1s'], absent: [], checks: [], probe: null, skipped: reason })],
    story: { title: TITLE, built: [], naive: [], found: [], fix: fixLines() },
    summary: { naive: '-', finding: '-', fix: FIX },
    skipped: reason,
  };
}

function fixLines(): string[] {
  return [
    'A request that takes almost exactly 1 s (3 s on older stacks) is a SYN that was dropped and retransmitted after the initial RTO, not a slow application.',
    'On IPVS / kube-proxy IPVS nodes: net.ipv4.vs.conn_reuse_mode=0 with net.ipv4.vs.expire_nodest_conn=1 (or a kernel >= 5.9); on NAT boxes: shorter nf_conntrack_tcp_timeout_time_wait; on clients: keep-alive connections and a wide ip_local_port_range, so source ports are not recycled within seconds.',
    'Capture on the client and run lbdiag pcap on it: syn-port-reuse-drop names the connection, the frames and the previous use of the port.',
  ];
}

/** Runs `lbdiag pcap FILE --json` and keeps its findings; a missing or failing analysis is a reason, not an error. */
function analyseCapture(file: string): PcapOutcome {
  const r = runSync(process.execPath, [LBDIAG_BIN, 'pcap', file, '--json'], 30_000);
  try {
    const doc = JSON.parse(r.stdout) as { findings?: Finding[]; summary?: Record<string, unknown> };
    if (!Array.isArray(doc.findings)) throw new Error('no findings in its output');
    return { file, findings: doc.findings, summary: doc.summary };
  } catch {
    const line = (r.stderr.trim().split('\n')[0] || `exit ${r.status}`).replace(/^lbdiag: /, '');
    return { file, findings: [], skipped: `lbdiag pcap could not analyse it: ${line}` };
  }
}

export const stall: Scenario = {
  name: 'stall',
  title: TITLE,
  fix: FIX,
  async run(ctx: LabContext): Promise<ScenarioResult> {
    const check = canUseNetns();
    if (!check.ok) return skippedResult(`the stall scenario ${check.reason}`);
    ctx.status('creating a network namespace with a SYN-dropping middlebox');
    const topo = await createStallTopology({
      drop: 'reused-port',
      backendCommand: (host, port) => ({ command: process.execPath, args: [LBDIAG_BIN, 'whoami', '--host', host, '--port', String(port), '--name', 'stalled', '--drain-delay', '0'] }),
    });
    ctx.defer(`namespace ${topo.ns.name}`, () => topo.teardown());
    ctx.started.namespaces.push(topo.ns.name);
    ctx.started.pids.push(topo.backendPid);
    const { ns } = topo;
    const range = `${PORT_LOW} ${PORT_LOW + PORTS - 1}`;
    const sysctl = findBinary('sysctl');
    if (sysctl) ns.exec(sysctl, ['-q', '-w', `net.ipv4.ip_local_port_range=${range}`, 'net.ipv4.tcp_max_tw_buckets=0']);
    else ns.exec('/bin/sh', ['-c', `echo '${range}' > /proc/sys/net/ipv4/ip_local_port_range && echo 0 > /proc/sys/net/ipv4/tcp_max_tw_buckets`]);

    // Capture inside the namespace, where client and backend talk over lo.
    // The capture is kept for the user to open (its path is in the story and the JSON).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lbdiag-lab-'));
    const file = path.join(dir, 'stall.pcap');
    let tcpdump: SpawnedProcess | undefined;
    let captureSkipped: string | undefined;
    const tcpdumpBin = findBinary('tcpdump');
    if (!tcpdumpBin) captureSkipped = 'tcpdump is not installed: no capture to analyse';
    else {
      tcpdump = ns.spawn(tcpdumpBin, ['-i', 'lo', '-n', '--immediate-mode', '-U', '-B', '8192', '-s', '200', '-w', file, 'tcp', 'port', String(topo.backend.port)], { name: 'tcpdump' });
      ctx.started.pids.push(tcpdump.pid);
      const up = await waitFor(() => /listening on/.test(tcpdump!.stderr()) || !tcpdump!.running(), 5000);
      if (!up || !tcpdump.running()) {
        captureSkipped = `tcpdump did not start: ${tcpdump.stderr().trim().split('\n').pop() ?? ''}`;
        await tcpdump.stop(500);
        tcpdump = undefined;
      }
    }

    // The probe, inside the namespace: short-lived connections, as curl in a loop.
    const requests = ctx.options.requests ?? DEFAULT_STALL_REQUESTS;
    const target = `${topo.backend.host}:${topo.backend.port}`;
    ctx.status(`probing ${target} from inside ${ns.name} (${requests} short-lived requests)`);
    const probeProc = ns.spawn(process.execPath, [LBDIAG_BIN, 'probe', target, '--mode', 'short', '-n', String(requests), '-c', String(CONCURRENCY), '--json', '--fail-on', 'none'], { name: 'lbdiag probe' });
    ctx.started.pids.push(probeProc.pid);
    const onAbort = (): void => {
      try {
        process.kill(probeProc.pid, 'SIGINT');
      } catch {
        /* gone */
      }
    };
    ctx.signal?.addEventListener('abort', onAbort, { once: true });
    const exit = await probeProc.exited;
    ctx.signal?.removeEventListener('abort', onAbort);
    let probe: ProbeReport | null = null;
    let probeError: string | undefined;
    try {
      probe = JSON.parse(probeProc.stdout()) as ProbeReport;
    } catch {
      probeError = `the probe inside the namespace failed (${exit.signal ?? `exit ${exit.code}`}): ${probeProc.stderr().trim().split('\n')[0] ?? ''}`;
    }

    let pcap: PcapOutcome;
    if (tcpdump) {
      await sleep(200);
      await tcpdump.stop(2000);
      const stats = /(\d+) packets? dropped by kernel/.exec(tcpdump.stderr());
      ctx.status('analysing the capture with lbdiag pcap');
      pcap = analyseCapture(file);
      if (stats && Number(stats[1]) > 0) pcap.summary = { ...(pcap.summary ?? {}), tcpdumpDroppedByKernel: Number(stats[1]) };
    } else pcap = { file: null, findings: [], skipped: captureSkipped };
    if (probeError) throw new Error(probeError);

    const analysed = !pcap.skipped && !ctx.aborted;
    const step = judge(
      {
        name: 'stall',
        step: 'direct',
        balancer: 'netns-syn-drop',
        expected: analysed ? ['stall-1s', 'syn-port-reuse-drop'] : ['stall-1s'],
        absent: [],
        checks: [],
        probe,
        pcap,
      },
      pcap.findings,
    );
    const short = probe?.modes.short;
    const stallF = probe?.findings.find((f) => f.id === 'stall-1s');
    const near1 = Number(stallF?.metrics?.near1s ?? 0);
    const reuse = pcap.findings.filter((f) => f.id === 'syn-port-reuse-drop');
    const slow = short ? `${near1} of ${short.requests}` : '?';
    return {
      name: 'stall',
      steps: [step],
      story: {
        title: TITLE,
        built: [
          `A network namespace ${ns.name}, joined to this one by a veth pair (${ns.rootIface}), with lbdiag whoami "stalled" inside on ${target}.`,
          'Inside it, iptables stands in for an IPVS node with conn_reuse_mode=1 (or a NAT whose conntrack entry is still in TIME_WAIT): the first SYN from a source port seen before is dropped, the retransmission passes:',
          ...topo.rules.map((r) => `  ${r}`),
          `The client (lbdiag probe, short-lived connections like curl in a loop) runs inside the namespace with its ephemeral ports narrowed to ${PORT_LOW}-${PORT_LOW + PORTS - 1} and TIME_WAIT off there, so ports come back within a second, as on a busy client or a shared SNAT address.`,
          tcpdump || pcap.file ? `tcpdump captures the namespace's lo into ${file} (kept: open it with lbdiag pcap or Wireshark).` : `No capture: ${pcap.skipped}.`,
        ],
        naive: short
          ? [
              `\`curl\` in a loop: ${short.requests - short.errors} of ${short.requests} answered, median ${ms(short.latency.total.p50)}, but ${slow} took ~1 s (p99 ${ms(short.latency.total.p99)}).`,
              'The application logs show fast responses, so it is filed as "the network is sometimes slow".',
            ]
          : ['(not measured)'],
        found: [
          stallF ? `stall-1s: ${stallF.title}; ${stallF.evidence[0]}.` : 'stall-1s was not raised: not the expected result.',
          pcap.skipped
            ? `Capture not analysed: ${pcap.skipped}.`
            : reuse.length
              ? `lbdiag pcap: ${reuse.length} syn-port-reuse-drop finding${reuse.length === 1 ? '' : 's'}, e.g. ${reuse[0].title} (${reuse[0].filter ?? ''}).`
              : `lbdiag pcap raised no syn-port-reuse-drop (${pcap.findings.map((f) => f.id).join(', ') || 'no findings'}): not the expected result.`,
        ],
        fix: fixLines(),
      },
      summary: {
        naive: short ? `curl loop: median ${ms(short.latency.total.p50)}, ${pct(short.requests ? near1 / short.requests : 0)} take ~1 s` : '-',
        finding: `${stallF ? `stall-1s (${near1} connects ~1 s)` : 'no stall-1s'}${analysed ? `; pcap: ${reuse.length} syn-port-reuse-drop` : ''}`,
        fix: FIX,
      },
    };
  },
};

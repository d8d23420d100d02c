/**
 * `stall-1s` (probe): connects clustered at the SYN retransmission times (about 1 s, 3 s, 7 s)
 * while the server answers fast: a first SYN dropped somewhere. (A gap inside a captured
 * connection is pcap's own finding, with its own id: src/pcap/detectors/stall.ts.)
 */
import type { Finding } from '../../core/finding.js';
import { formatDuration } from '../../core/units.js';
import type { ModeDetector } from './context.js';

export const stall1s: ModeDetector = (m): Finding | null => {
  const c = m.connect;
  if (c.count === 0) return null;
  const near1 = c.countBetween(850, 1600);
  const near3 = c.countBetween(2800, 3800);
  const near7 = c.countBetween(6800, 7800);
  const stalled = near1 + near3 + near7;
  if (stalled === 0) return null;
  const slow = c.countBetween(500, 1e9);
  const fast = c.countBetween(0, 300);
  const t = m.ttfb;
  // A cluster at the retransmission times, not a spread of slow connects; and the path itself is
  // fast (the request/response round trip takes well under the stall), so it is not a long RTT.
  if (stalled / Math.max(1, slow) < 0.6) return null;
  if (t.count > 0 && !(t.quantile(0.5) < 300)) return null;
  const serverNear1 = t.countBetween(850, 1600) + t.countBetween(2800, 3800);
  const parts = [`${near1} near 1 s`];
  if (near3) parts.push(`${near3} near 3 s`);
  if (near7) parts.push(`${near7} near 7 s`);
  return {
    id: 'stall-1s',
    severity: 'warn',
    mode: m.mode,
    title: `${m.mode}: ${stalled} of ${c.count} connects took ~1 s${near3 ? ' or ~3 s' : ''} (SYN retransmission)`,
    evidence: [
      `connect times: ${parts.join(', ')}; ${fast} under 300 ms (median ${formatDuration(c.quantile(0.5))})`,
      `server time (first byte after the request) near 1 s or 3 s: ${serverNear1} of ${t.count}: the delay is in the TCP handshake, not the application`,
    ],
    explanation:
      'A connect that takes almost exactly 1 s (Linux initial RTO; 3 s on older stacks, then 7 s) means the first SYN got no answer and was retransmitted. Something dropped it: a SYN flood protection or full accept queue, a conntrack/NAT entry for a reused source port still in TIME_WAIT, or IPVS with `net.ipv4.vs.conn_reuse_mode=1` dropping the first SYN of a reused port (kube-proxy IPVS mode), or an overloaded middlebox.',
    remedy:
      'Capture on the client and run `lbdiag pcap` on it to see the retransmitted SYN and which hop dropped it. On LVS/kube-proxy IPVS nodes check `net.ipv4.vs.conn_reuse_mode` and `net.ipv4.vs.expire_nodest_conn`; on NAT boxes `nf_conntrack_tcp_timeout_time_wait` and conntrack table usage (`conntrack -S`, insert_failed/drop); on servers the listen backlog (`ss -ltn` Recv-Q, `nstat TcpExtListenOverflows`).',
    metrics: { connects: c.count, near1s: near1, near3s: near3, near7s: near7, serverStalls: serverNear1 },
  };
};

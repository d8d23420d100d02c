/**
 * `syn-port-reuse-drop`: the first SYN of a connection that reuses the 4-tuple of an earlier
 * one (tshark: `tcp.analysis.reused_ports`) went unanswered and was retransmitted.
 */
import type { Finding } from '../../core/finding.js';
import { clientOf, serverOf, type Conn } from '../connection.js';
import { round6, secs, type DetectorContext } from './context.js';
import { synMetrics, synRetransmission } from './syn-retransmit.js';

export const SYN_PORT_REUSE_DROP = 'syn-port-reuse-drop';

export function detectSynPortReuseDrop(c: Conn, ctx: DetectorContext): Finding | null {
  if (!c.reusedPorts) return null;
  const s = synRetransmission(c, ctx);
  // Refused by a RST is not a drop: syn-retransmit reports it.
  if (!s || s.refusedFrame !== 0) return null;
  const prev =
    c.previousState === 'fin'
      ? 'closed with FIN'
      : c.previousState === 'rst'
        ? 'reset'
        : 'still open (no FIN or RST seen)';
  const sincePrev = s.dir.synTime - c.previousLastTime;
  const evidence = [
    `the 4-tuple was used by tcp.stream ${c.previousStream} (${prev}), whose last packet was ${secs(sincePrev)} before this SYN (frame ${c.reusedFrame}, flagged "TCP Port numbers reused")`,
    ...s.evidence,
  ];
  return {
    id: SYN_PORT_REUSE_DROP,
    severity: 'error',
    title: `SYN on a reused port dropped ${s.count} time(s): connection set up ${secs(s.delayS)} late`,
    evidence,
    explanation:
      'The client reused a source port whose previous connection to the same server had just ended. A balancer that still ' +
      'holds the old connection in TIME_WAIT drops the first SYN of the new one: IPVS does this with ' +
      'net.ipv4.vs.conn_reuse_mode=1 (the default) while the old entry lingers, conntrack-based NAT does it when the old entry ' +
      'has not expired (net.netfilter.nf_conntrack_tcp_timeout_time_wait, 120 s). The client retransmits the SYN after its ' +
      'initial RTO (1 s on Linux, 3 s on older stacks), so the request takes a second longer. It shows under load, when many ' +
      'short connections cycle through the ephemeral port range (or many clients share one SNAT address).',
    remedy:
      'Use keep-alive connections so ports are not recycled quickly; widen the client port range (net.ipv4.ip_local_port_range); ' +
      'on IPVS balancers consider net.ipv4.vs.conn_reuse_mode=0 together with net.ipv4.vs.expire_nodest_conn=1 (or a kernel ' +
      '>= 5.9, which no longer delays reused connections when conntrack is off), and shorten the TIME_WAIT timeouts ' +
      '(ipvsadm --set, net.netfilter.nf_conntrack_tcp_timeout_time_wait).',
    metrics: {
      ...synMetrics(c, s),
      previousStream: c.previousStream,
      previousState: c.previousState || null,
      sincePreviousS: round6(sincePrev),
    },
    stream: c.stream,
    frames: s.frames,
    client: clientOf(c),
    server: serverOf(c),
    filter: `tcp.stream eq ${c.stream}`,
  };
}

/**
 * `syn-retransmit`: a pure SYN sent again (tshark: `tcp.flags.syn==1 && tcp.flags.ack==0 &&
 * tcp.analysis.retransmission`) on a connection that is not a reused port (those are
 * `syn-port-reuse-drop`), or on a reused port whose SYNs were refused by a RST (not dropped).
 * One finding per connection.
 */
import type { Finding } from '../../core/finding.js';
import { clientOf, serverOf, type Conn, type Direction } from '../connection.js';
import { at, round6, secs, type DetectorContext } from './context.js';

export const SYN_RETRANSMIT = 'syn-retransmit';

export interface SynRetransmission {
  dir: Direction;
  frames: number[];
  count: number;
  answered: boolean;
  /** The peer answered with a RST (frame, 0: none) and no SYN/ACK: refused, not dropped. */
  refusedFrame: number;
  /** Time from the first SYN until the SYN that got through (or the last one sent). */
  delayS: number;
  evidence: string[];
}

/** The SYN retransmissions of a connection, or null. Shared with syn-port-reuse-drop. */
export function synRetransmission(c: Conn, ctx: DetectorContext): SynRetransmission | null {
  const dir = c.ab.synRetransCount >= c.ba.synRetransCount ? c.ab : c.ba;
  if (dir.synRetransCount === 0) return null;
  const last = dir.synRetransTimes[dir.synRetransTimes.length - 1];
  const answered = c.synAckFrame !== 0 && c.synAckTime >= dir.synTime;
  const peer = dir === c.ab ? c.ba : c.ab;
  const refusedFrame = !answered && peer.rstFrame !== 0 && peer.rstTime >= dir.synTime ? peer.rstFrame : 0;
  const delay = (answered ? Math.min(c.synAckTime, last) : last) - dir.synTime;
  const gaps = dir.synRetransTimes.map((t, i) => secs(t - (i === 0 ? dir.synTime : dir.synRetransTimes[i - 1])));
  const list = `frames ${dir.synRetransFrames.join(', ')}${dir.synRetransCount > dir.synRetransFrames.length ? ', …' : ''}`;
  const evidence = [
    dir.synFirstRetrans
      ? `SYN sent ${dir.synRetransCount} time(s) (${list}) with a sequence number already sent: the original SYN is not in the capture (it started later, or missed that packet); intervals ${gaps.slice(1).join(', ') || '-'}`
      : `SYN in frame ${dir.synFrame} at ${at(ctx, dir.synTime)}, sent again ${dir.synRetransCount} time(s) (${list}), intervals ${gaps.join(', ')}`,
    answered
      ? `answered by the SYN/ACK in frame ${c.synAckFrame}, ${secs(c.synAckTime - dir.synTime)} after the first SYN: the connection started ${secs(delay)} late`
      : refusedFrame !== 0
        ? `answered by a RST, not a SYN/ACK (frame ${refusedFrame}, ${secs(peer.rstTime - dir.synTime)} after the first SYN): refused, nothing accepts connections there; the SYN was still sent again, so the RST did not reach the client (dropped between this capture point and the client, or not accepted by it)`
        : 'never answered by a SYN/ACK in the capture',
  ];
  const frames = dir.synFirstRetrans ? [...dir.synRetransFrames] : [dir.synFrame, ...dir.synRetransFrames];
  return { dir, frames, count: dir.synRetransCount, answered, refusedFrame, delayS: delay, evidence };
}

/** Seconds from the original SYN to its first retransmission (null when the original is not in the capture and only one retransmission is). */
function firstInterval(d: Direction): number | null {
  const times = d.synRetransTimes;
  if (!d.synFirstRetrans) return times[0] - d.synTime;
  return times.length > 1 ? times[1] - times[0] : null;
}

export function synMetrics(c: Conn, s: SynRetransmission): Record<string, number | boolean | number[] | null> {
  return {
    retransmissions: s.count,
    firstSynFrame: s.dir.synFirstRetrans ? null : s.dir.synFrame,
    retransmittedFrames: s.dir.synRetransFrames,
    answered: s.answered,
    synAckFrame: c.synAckFrame || null,
    refusedByRstFrame: s.refusedFrame || null,
    addedDelayS: round6(s.delayS),
    firstIntervalS: ((x) => (x === null ? null : round6(x)))(firstInterval(s.dir)),
  };
}

export function detectSynRetransmit(c: Conn, ctx: DetectorContext): Finding | null {
  const s = synRetransmission(c, ctx);
  if (!s) return null;
  // A reused port's dropped SYN is syn-port-reuse-drop; a refused one is reported here.
  if (c.reusedPorts && s.refusedFrame === 0) return null;
  const first = firstInterval(s.dir);
  return {
    id: SYN_RETRANSMIT,
    severity: s.answered ? 'warn' : 'error',
    title: s.answered
      ? `SYN retransmitted ${s.count} time(s): connection set up ${secs(s.delayS)} late`
      : s.refusedFrame !== 0
        ? `SYN retransmitted ${s.count} time(s), answered by a RST (refused)`
        : `SYN retransmitted ${s.count} time(s) and never answered`,
    evidence: s.evidence,
    explanation:
      (s.refusedFrame !== 0
        ? 'The server side answered the SYN with a RST: the port is closed there (the backend is down or not listening, or a ' +
          'firewall or balancer rejects the connection). A client that gets that RST gives up at once; this one sent the SYN ' +
          'again, so the RST never reached it: something between the capture point and the client drops it. '
        : '') +
      `The first SYN got no SYN/ACK, so the client's stack sent it again after its initial retransmission timeout ` +
      `(${first === null ? 'not measurable here' : `${secs(first)} here`}; 1 s on Linux, 3 s on older stacks per RFC 2988, doubling each time). The SYN or its answer was lost ` +
      'or dropped: a backend that is down or unreachable behind the balancer, a full listen queue on an overloaded backend ' +
      '(SYNs are dropped when the accept backlog overflows), a full conntrack table on the balancer, or a firewall.',
    remedy:
      'On the backend: `nstat -az TcpExtListenOverflows TcpExtListenDrops` and raise the listen backlog (net.core.somaxconn, ' +
      'the server\'s backlog setting, net.ipv4.tcp_max_syn_backlog) if they grow. On the balancer: health checks that remove ' +
      'dead backends quickly, `dmesg | grep "table full"` and net.netfilter.nf_conntrack_max. Capture on both sides of the ' +
      'balancer to see where the SYN disappears.',
    metrics: synMetrics(c, s),
    stream: c.stream,
    frames: s.frames,
    client: clientOf(c),
    server: serverOf(c),
    filter: `tcp.stream eq ${c.stream}`,
  };
}

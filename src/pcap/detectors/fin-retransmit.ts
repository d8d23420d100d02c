/**
 * `fin-retransmit`: a FIN sent again with the same sequence number because no ACK came
 * (tshark: `tcp.flags.fin==1 && tcp.analysis.retransmission`). One finding per connection.
 */
import type { Finding } from '../../core/finding.js';
import { clientIsA, clientOf, serverOf, type Conn, type Direction } from '../connection.js';
import { at, round6, secs, type DetectorContext } from './context.js';

export const FIN_RETRANSMIT = 'fin-retransmit';

function peerReaction(fin: Direction, peer: Direction): { reaction: 'ack' | 'rst' | 'nothing'; frame: number; time: number } {
  if (peer.rstFrame !== 0 && peer.rstTime >= fin.finTime) return { reaction: 'rst', frame: peer.rstFrame, time: peer.rstTime };
  if (fin.finAckedFrame !== 0) return { reaction: 'ack', frame: fin.finAckedFrame, time: fin.finAckedTime };
  return { reaction: 'nothing', frame: 0, time: 0 };
}

export function detectFinRetransmit(c: Conn, ctx: DetectorContext): Finding | null {
  const aIsClient = clientIsA(c);
  const dirs: { dir: Direction; peer: Direction; who: 'client' | 'server' }[] = [];
  if (c.ab.finRetransCount > 0) dirs.push({ dir: c.ab, peer: c.ba, who: aIsClient ? 'client' : 'server' });
  if (c.ba.finRetransCount > 0) dirs.push({ dir: c.ba, peer: c.ab, who: aIsClient ? 'server' : 'client' });
  if (dirs.length === 0) return null;
  // The direction that retransmitted most leads the finding.
  dirs.sort((x, y) => y.dir.finRetransCount - x.dir.finRetransCount);
  const { dir, peer, who } = dirs[0];
  const frames: number[] = [];
  const retransmitted: number[] = [];
  for (const d of dirs) {
    // The original FIN first, when the capture holds it (see Direction.finFirstRetrans).
    if (!d.dir.finFirstRetrans) frames.push(d.dir.finFrame);
    frames.push(...d.dir.finRetransFrames);
    retransmitted.push(...d.dir.finRetransFrames);
  }
  const count = dirs.reduce((n, d) => n + d.dir.finRetransCount, 0);
  const lastRetrans = dir.finRetransTimes[dir.finRetransTimes.length - 1] ?? dir.finTime;
  const over = lastRetrans - dir.finTime;
  const r = peerReaction(dir, peer);
  const reactionText =
    r.reaction === 'rst'
      ? `the peer answered with a RST (frame ${r.frame}, ${secs(r.time - dir.finTime)} after the first FIN)`
      : r.reaction === 'ack'
        ? `the FIN was finally acknowledged (frame ${r.frame}, ${secs(r.time - dir.finTime)} after the first FIN)`
        : 'the peer never acknowledged it and sent nothing back';
  const peerFinFirst = peer.finFrame !== 0 && peer.finTime <= dir.finTime;
  const list = `frames ${dir.finRetransFrames.join(', ')}${dir.finRetransCount > dir.finRetransFrames.length ? ', …' : ''}`;
  const evidence = [
    dir.finFirstRetrans
      ? `${who} FIN sent ${dir.finRetransCount} time(s) over ${secs(over)} (${list}), each time at a sequence number already sent: the original FIN is not in the capture (it started later, or missed that packet); the first one seen is at ${at(ctx, dir.finTime)}`
      : `${who} FIN in frame ${dir.finFrame} at ${at(ctx, dir.finTime)}, sent again ${dir.finRetransCount} time(s) over ${secs(over)} (${list})`,
    `after the FIN: ${reactionText}`,
  ];
  if (peerFinFirst) evidence.push(`the other side had closed first (its FIN in frame ${peer.finFrame}, ${secs(dir.finTime - peer.finTime)} earlier): the connection sat half-closed that long`);
  if (dirs.length > 1) evidence.push(`the other side's FIN was retransmitted too (${dirs[1].dir.finRetransCount} time(s))`);
  return {
    id: FIN_RETRANSMIT,
    severity: r.reaction === 'ack' ? 'warn' : 'error',
    title: `${who} FIN retransmitted ${count} time(s) over ${secs(over)}, ${r.reaction === 'ack' ? 'acknowledged late' : r.reaction === 'rst' ? 'answered by RST' : 'never acknowledged'}`,
    evidence,
    explanation:
      'A FIN that is sent again with the same sequence number was not acknowledged. Behind an LVS/IPVS NAT balancer or any ' +
      'conntrack-based NAT (kube-proxy, iptables DNAT), the NAT entry for a half-closed connection expires on its own timer ' +
      '(net.netfilter.nf_conntrack_tcp_timeout_close_wait, 60 s by default; _time_wait 120 s; IPVS fin_wait 120 s): when one side ' +
      'closes long after the other, its FIN is no longer translated, never reaches the peer, and is retransmitted until the ' +
      'stack gives up or a RST arrives. The request that triggered the close waits meanwhile (often about a second).',
    remedy:
      'Make the client pool close idle connections before the server and the balancer do (client idle timeout < server ' +
      'keep-alive timeout < conntrack/IPVS timeouts), or raise the balancer timeouts: sysctl ' +
      'net.netfilter.nf_conntrack_tcp_timeout_close_wait / _time_wait / _fin_wait, and for IPVS `ipvsadm --set <tcp> <tcpfin> <udp>`. ' +
      'Check with `conntrack -L -p tcp --dport <port>` and `ipvsadm -lnc` whether the entry is gone when the FIN leaves.',
    metrics: {
      retransmissions: count,
      firstFinFrame: dir.finFirstRetrans ? null : dir.finFrame,
      retransmittedFrames: retransmitted,
      overS: round6(over),
      sender: who,
      peerReaction: r.reaction,
      peerReactionFrame: r.frame || null,
      halfClosedS: peerFinFirst ? round6(dir.finTime - peer.finTime) : null,
    },
    stream: c.stream,
    frames,
    client: clientOf(c),
    server: serverOf(c),
    filter: `tcp.stream eq ${c.stream}`,
  };
}

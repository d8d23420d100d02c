/**
 * `fin-retransmit`: a FIN sent again with the same sequence number because no ACK came
 * (tshark: `tcp.flags.fin==1 && tcp.analysis.retransmission`). One finding per connection.
 *
 * Severity follows what the retransmission cost. Never acknowledged, or answered by a RST: error
 * (the NAT/conntrack expiry this finding exists for drops every retransmission). Acknowledged
 * after RECOVERED_S or more: warn (the close waited). Acknowledged sooner: info, because that is
 * ordinary loss recovery (a tail-loss probe fires after about two round trips, milliseconds on a
 * LAN, and the peer's ACK follows) or an ACK that came late; an expired NAT entry never lets a
 * FIN through, so it cannot be that. Busy real captures hold many of these (loopback ones too).
 */
import type { Finding } from '../../core/finding.js';
import { clientIsA, clientOf, serverOf, type Conn, type Direction } from '../connection.js';
import { at, round6, secs, type DetectorContext } from './context.js';

export const FIN_RETRANSMIT = 'fin-retransmit';

/**
 * Acknowledged within this long after the first FIN: recovered at once. Linux's minimum RTO (and
 * so the earliest retransmission timer that is not a tail-loss probe) is 200 ms; Windows' 300 ms.
 */
export const RECOVERED_S = 0.2;

/** The NAT expiry this finding looks for, after `lead` ('Behind', or a sentence that rules it out). */
const expiry = (lead: string): string =>
  `${lead} an LVS/IPVS NAT balancer or any ` +
  'conntrack-based NAT (kube-proxy, iptables DNAT), the NAT entry for a half-closed connection expires on its own timer ' +
  '(net.netfilter.nf_conntrack_tcp_timeout_close_wait, 60 s by default; _time_wait 120 s; IPVS fin_wait 120 s): when one side ' +
  'closes long after the other, its FIN is no longer translated, never reaches the peer, and is retransmitted until the ' +
  'stack gives up or a RST arrives. The request that triggered the close waits meanwhile (often about a second).';

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
  const ackAfter = r.reaction === 'ack' ? r.time - dir.finTime : Infinity;
  // Recovered at once: ordinary loss recovery, not the NAT expiry (see RECOVERED_S). Only when the
  // original FIN is in the capture (otherwise the wait is unknown).
  const recovered = r.reaction === 'ack' && !dir.finFirstRetrans && ackAfter < RECOVERED_S;
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
  if (recovered) evidence.push(`that is under the ${RECOVERED_S * 1000} ms minimum retransmission timeout: ordinary loss recovery (tail-loss probe) or a late ACK, not an expired NAT entry (that drops every retransmission)`);
  return {
    id: FIN_RETRANSMIT,
    severity: recovered ? 'info' : r.reaction === 'ack' ? 'warn' : 'error',
    title: recovered
      ? `${who} FIN retransmitted ${count} time(s), acknowledged ${secs(ackAfter)} after it was first sent (recovered at once)`
      : `${who} FIN retransmitted ${count} time(s) over ${secs(over)}, ${r.reaction === 'ack' ? 'acknowledged late' : r.reaction === 'rst' ? 'answered by RST' : 'never acknowledged'}`,
    evidence,
    explanation: recovered
      ? 'A FIN was sent again and the peer acknowledged it within a fraction of the minimum retransmission timeout: the stack ' +
        'probed for a lost tail (Linux sends a tail-loss probe about two round trips after its last segment) and the ACK ' +
        'followed, or the first ACK was lost or delayed. The close did not wait. ' +
        expiry('That is not the NAT expiry this finding looks for: behind')
      : r.reaction === 'ack'
        ? 'A FIN was sent again because no ACK came, and was acknowledged only later: the close waited. Either the FIN (or its ACK) ' +
          'was lost on the way, which the capture\'s other retransmissions would show, or the path dropped it for a while. ' +
          expiry('Behind')
        : 'A FIN that is sent again with the same sequence number was not acknowledged. ' + expiry('Behind'),
    remedy: recovered
      ? 'Nothing to fix for this connection. When many connections show it, look for packet loss (retransmissions in the ' +
        'capture summary) or a peer slow to acknowledge; an expired NAT entry shows as FINs never acknowledged or answered by RST.'
      : 'Make the client pool close idle connections before the server and the balancer do (client idle timeout < server ' +
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

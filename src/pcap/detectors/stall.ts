/**
 * `tcp-stall`: a gap of at least --stall-threshold inside a connection while it was waiting on
 * the network (handshake, unacknowledged data, a retransmission, a request without its answer),
 * not idle between requests. SYN and FIN retransmissions are left to their own findings.
 * Called `stall-1s` in lbdiag 0.1; renamed because the probe's `stall-1s` is a different finding
 * (connect times near 1/3/7 s: SYN retransmissions). The catalog keeps the old id as an alias.
 */
import type { Finding } from '../../core/finding.js';
import { clientIsA, clientOf, serverOf, type Conn } from '../connection.js';
import { round6, secs, type DetectorContext } from './context.js';

export const STALL = 'tcp-stall';

const WHERE: Record<string, string> = {
  handshake: 'during the handshake (SYN sent, connection not yet established)',
  retransmission: 'before a retransmission (a segment was lost and resent after a timeout)',
  'unacknowledged-data': 'while data was in flight and unacknowledged',
  'awaiting-response': 'between a request and its response (the request was acknowledged; the server side took this long to answer)',
};

const MEANING: Record<string, string> = {
  handshake:
    'The handshake took longer than the threshold: the SYN/ACK or the final ACK was lost and resent, or the server accepted late.',
  retransmission:
    'A segment was lost and only resent after the retransmission timeout (at least 200 ms on Linux, often about a second once ' +
    'the RTO has backed off). Behind a balancer this is often a NAT/conntrack entry that vanished or a backend that went away.',
  'unacknowledged-data':
    'Data sat unacknowledged for the whole gap: the peer, or something between the peers (balancer, firewall, a NAT entry that ' +
    'expired), stopped passing packets for that long.',
  'awaiting-response':
    'The request was delivered (the server side acknowledged it) and its answer took this long: not a network loss on this side. ' +
    'Three causes fit and this capture alone does not tell them apart: the application answers slowly by design (a long poll, ' +
    'a streaming or report endpoint: then nothing is wrong); the backend was slow or waiting on something itself (a downstream ' +
    'call, a lock, a full thread pool); or, through an HTTP proxy or balancer, the proxy waited before forwarding (a connect to a ' +
    'dead or overloaded pool member retried after its connect timeout, a queue at maxconn).',
};

const FIX: Record<string, string> = {
  handshake: 'See whether the SYN/ACK left the server (capture on the backend); check the backend\'s listen queue and the balancer\'s conntrack table.',
  retransmission: 'Find where the segment was lost: capture on both sides of the balancer; check interface drops (ip -s link), conntrack and firewall drops (nstat, dmesg).',
  'unacknowledged-data': 'Capture on both sides of the balancer to see which hop holds the packets; check conntrack/IPVS timeouts against the connection\'s idle time.',
  'awaiting-response':
    'See what this request was (the URL in the application\'s or the balancer\'s logs: a long poll answers late on purpose). Otherwise capture ' +
    'on the backend side of the balancer at the same time: if the backend got the request at once and answered late, look at the backend ' +
    '(its logs, CPU, downstream calls); if the request reached it late, look at the balancer (haproxy Tc/Tw timers, nginx $upstream_connect_time).',
};

export function detectStall(c: Conn, ctx: DetectorContext): Finding | null {
  if (c.stallCount === 0 || c.stallPhase === '') return null;
  const phase = c.stallPhase;
  const fromClient = c.stallFromA === clientIsA(c);
  const ka = c.stallKeepAlives;
  const evidence = [
    ka === 0
      ? `no packet for ${secs(c.stallGap)} between frames ${c.stallFromFrame} and ${c.stallToFrame}, ${secs(c.stallAt)} into the connection, ${WHERE[phase]}`
      : `nothing but ${ka} TCP keep-alive probe${ka === 1 ? '' : 's'} and ACK${ka === 1 ? '' : 's'} (tcp.analysis.keep_alive, keep_alive_ack: the kernels checking that the peer is still there, no data) for ${secs(c.stallGap)} between frames ${c.stallFromFrame} and ${c.stallToFrame}, ${secs(c.stallAt)} into the connection, ${WHERE[phase]}`,
    `the gap ended with a packet from the ${fromClient ? 'client' : 'server'}`,
  ];
  if (c.stallCount > 1) evidence.push(`${c.stallCount} gaps of at least ${secs(ctx.stallThresholdS)} in this connection; the longest is shown`);
  return {
    id: STALL,
    severity: 'warn',
    title: phase === 'awaiting-response' ? `${secs(c.stallGap)} before the server side answered a request` : `${secs(c.stallGap)} stall ${WHERE[phase].replace(/ \(.*\)$/, '')}`,
    evidence,
    explanation: MEANING[phase],
    remedy: FIX[phase],
    metrics: {
      gapS: round6(c.stallGap),
      phase,
      fromFrame: c.stallFromFrame,
      toFrame: c.stallToFrame,
      intoConnectionS: round6(c.stallAt),
      stalls: c.stallCount,
      thresholdS: ctx.stallThresholdS,
      ...(ka > 0 ? { keepAlivePackets: ka } : {}),
    },
    stream: c.stream,
    frames: [c.stallFromFrame, c.stallToFrame],
    client: clientOf(c),
    server: serverOf(c),
    filter: `tcp.stream eq ${c.stream}`,
  };
}

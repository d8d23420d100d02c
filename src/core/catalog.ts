/**
 * The finding catalog: every id a detector can emit, once, with the severities it can take, the
 * sources that raise it and a one-line summary. Ids are a public contract (users gate CI and grep
 * JSON on them): one id has one meaning in every source. The README's finding tables list exactly
 * these ids, and test/catalog.test.ts fails when the code emits an id missing here, or when the
 * README and this list differ.
 *
 * `aliases`: ids this finding was known by in an earlier release, per source. They are no longer
 * emitted; they are listed (here and in the README) for one release so users can update their
 * filters. `lbdiag pcap`'s `tcp-stall` was `stall-1s` in lbdiag 0.1, which collided with the
 * probe's `stall-1s` (a SYN retransmission seen as connect times near 1/3/7 s).
 */
import type { Severity } from './finding.js';

export type FindingSource = 'probe' | 'pcap' | 'merge';

export interface CatalogEntry {
  id: string;
  /** Every severity the finding can take, mildest first. */
  severities: readonly Severity[];
  /** `pcap` for the probe's ids: raised from the HTTP/1.x exchanges a capture holds, by the same detectors. */
  sources: readonly FindingSource[];
  summary: string;
  /** Former ids of this finding (no longer emitted), with the source that used them and the last release that did. */
  aliases?: readonly { id: string; source: FindingSource; until: string }[];
}

/** The probe's exchange detectors: run by the probe, on captures' HTTP exchanges (pcap) and again by merge. */
const BOTH: readonly FindingSource[] = ['probe', 'pcap', 'merge'];

export const CATALOG: readonly CatalogEntry[] = [
  // Probe diagnoses (src/probe/analyse.ts, src/probe/detectors/), also run on a capture's HTTP/1.x exchanges.
  { id: 'keepalive-pinning', severities: ['warn'], sources: BOTH, summary: 'keep-alive connections each stay on one backend (a layer-4 balancer balances connections, not requests)' },
  { id: 'insufficient-data', severities: ['info'], sources: BOTH, summary: 'a test could not decide with this sample; says how many requests it needs' },
  { id: 'imbalance', severities: ['info', 'warn'], sources: BOTH, summary: 'backend shares differ from equal (or --weights) shares beyond chance (chi-square p < 0.001)' },
  { id: 'single-backend', severities: ['warn'], sources: BOTH, summary: 'one backend answered every identified request' },
  { id: 'backend-missing', severities: ['error'], sources: BOTH, summary: 'backends named by --expect / --expect-backends / --weights did not answer' },
  { id: 'late-backend-starved', severities: ['warn'], sources: BOTH, summary: 'a backend that appeared part-way gets almost nothing on pooled keep-alive connections' },
  { id: 'backend-restarted', severities: ['info'], sources: BOTH, summary: 'one backend name answered from successive process generations: a clean restart' },
  { id: 'stale-instance', severities: ['info', 'warn'], sources: BOTH, summary: 'an older process generation of a backend still takes new connections beside a newer one' },
  { id: 'all-failing', severities: ['error'], sources: BOTH, summary: 'every request of a mode failed' },
  { id: 'intermittent-errors', severities: ['warn', 'error'], sources: BOTH, summary: 'some requests fail while others succeed; the pattern ranks dead member, stale listener, failing backend' },
  { id: 'idle-timeout-reset', severities: ['warn'], sources: BOTH, summary: 'reused connections fail after idling more often than fresh ones (an idle timeout shorter than the client\'s)' },
  { id: 'l7-proxy', severities: ['info'], sources: BOTH, summary: 'a layer-7 proxy is in the path: requests are balanced one by one' },
  { id: 'connection-churn', severities: ['info'], sources: BOTH, summary: 'keep-alive connections were ended by the other side far more often than expected' },
  { id: 'no-backend-identity', severities: ['info'], sources: BOTH, summary: 'most responses did not say which backend answered' },
  // Probe only: they need what only the probing machine sees.
  { id: 'stall-1s', severities: ['warn'], sources: ['probe', 'merge'], summary: 'connect times cluster near 1 s / 3 s / 7 s while the server answers fast: SYN retransmissions' },
  { id: 'source-affinity', severities: ['warn'], sources: ['probe', 'merge'], summary: 'with several --source addresses, each source keeps reaching the same backend beyond chance (chi-square test of independence): the balancer hashes the client address' },
  { id: 'mixed-targets', severities: ['info'], sources: ['merge'], summary: 'merged runs probed different targets: merged as one service (right for one VIP under several names, wrong for different services)' },
  { id: 'protocol-mismatch', severities: ['error'], sources: ['probe', 'merge'], summary: 'probe and server speak different HTTP versions, as seen on the wire: HTTP/2 frames to an HTTP/1.1 request, an HTTP/1.x reply to the HTTP/2 preface, or ALPN without h2' },
  { id: 'client-pinned', severities: ['warn'], sources: ['merge'], summary: 'merged runs: one client stayed on one backend while other clients spread over several' },
  { id: 'local-port-exhaustion', severities: ['warn'], sources: ['probe', 'merge'], summary: 'connects failed with EADDRNOTAVAIL: the probing machine ran out of local ports' },
  { id: 'tls-error', severities: ['info', 'error'], sources: ['probe', 'merge'], summary: 'requests failed in the TLS handshake (expired, self-signed, unknown CA, name mismatch with the certificate\'s names, alert, version): the exact problem and the flag that fixes it (-k, --cacert, --sni); info under -k for a certificate that would not verify' },
  { id: 'tls-cert-mismatch', severities: ['warn'], sources: ['probe', 'merge'], summary: 'each backend presents its own TLS certificate (TLS passed through): pinning, session resumption and renewals differ per backend' },
  // Capture TCP analysis (src/pcap/detectors/).
  { id: 'fin-retransmit', severities: ['info', 'warn', 'error'], sources: ['pcap'], summary: 'a FIN was retransmitted: a NAT/conntrack entry of a half-closed connection expired' },
  { id: 'syn-port-reuse-drop', severities: ['error'], sources: ['pcap'], summary: 'the first SYN of a reused 4-tuple went unanswered and was resent (IPVS conn_reuse_mode, conntrack TIME_WAIT)' },
  { id: 'syn-retransmit', severities: ['warn', 'error'], sources: ['pcap'], summary: 'any other SYN retransmission: lost SYN, backend down or overloaded, refused with a lost RST' },
  {
    id: 'tcp-stall',
    severities: ['warn'],
    sources: ['pcap'],
    summary: 'a gap of at least --stall-threshold inside a connection while it waited on the network or on an answer',
    aliases: [{ id: 'stall-1s', source: 'pcap', until: '0.1' }],
  },
];

const BY_ID = new Map(CATALOG.map((e) => [e.id, e]));

export function catalogEntry(id: string): CatalogEntry | undefined {
  return BY_ID.get(id);
}

/**
 * The tshark display filter equivalent to lbdiag pcap's detectors, evaluated in one pass like lbdiag
 * does: FIN retransmissions (fin-retransmit), SYN retransmissions and reused ports (syn-retransmit,
 * syn-port-reuse-drop) and gaps of at least 0.9 s (stall-1s, lbdiag's default --stall-threshold;
 * tcp.time_delta needs tcp.calculate_timestamps). tshark runs its full TCP analysis to answer them.
 */
export const TSHARK_FILTERS = [
  'tcp.flags.fin == 1 && tcp.analysis.retransmission',
  'tcp.flags.syn == 1 && tcp.flags.ack == 0 && (tcp.analysis.retransmission || tcp.analysis.reused_ports)',
  'tcp.time_delta >= 0.9',
];

export function tsharkArgs(file: string): string[] {
  return ['-n', '-r', file, '-o', 'tcp.calculate_timestamps:TRUE', '-Y', TSHARK_FILTERS.map((f) => `(${f})`).join(' || ')];
}

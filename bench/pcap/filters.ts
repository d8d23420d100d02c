/**
 * The tshark display filter equivalent to lbdiag pcap's detectors, evaluated in one pass like lbdiag
 * does: FIN retransmissions, SYN retransmissions/reused ports (port-reuse SYN drops) and 1-second
 * stalls (tcp.time_delta needs tcp.calculate_timestamps).
 */
export const TSHARK_FILTERS = [
  'tcp.flags.fin == 1 && tcp.analysis.retransmission',
  'tcp.flags.syn == 1 && tcp.flags.ack == 0 && (tcp.analysis.retransmission || tcp.analysis.reused_ports)',
  'tcp.time_delta >= 0.9',
];

export function tsharkArgs(file: string): string[] {
  return ['-n', '-r', file, '-o', 'tcp.calculate_timestamps:TRUE', '-Y', TSHARK_FILTERS.map((f) => `(${f})`).join(' || ')];
}

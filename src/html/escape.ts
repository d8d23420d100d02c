/**
 * Escaping for the HTML report. Every string that can come from the network or a capture
 * (backend names, headers, addresses, finding text that quotes them) goes through `esc` before it
 * is placed in text or an attribute; nothing is ever inserted raw.
 */
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text or attribute value (double- or single-quoted) made inert. Control characters become U+FFFD. */
export function esc(value: unknown): string {
  const s = value === null || value === undefined ? '' : String(value);
  // eslint-disable-next-line no-control-regex
  return s.replace(/[&<>"']/g, (c) => ENTITIES[c]).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '\ufffd');
}

/** A label cut to `max` characters with an ellipsis (the full text goes in a <title>). */
export function clip(value: string, max: number): string {
  return value.length <= max ? value : `${value.slice(0, Math.max(1, max - 1))}…`;
}

/** A number for an SVG attribute: finite, two decimals at most. */
export function n(x: number): string {
  if (!Number.isFinite(x)) return '0';
  return String(Math.round(x * 100) / 100);
}

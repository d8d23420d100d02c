/**
 * `renderHtml(doc)`: the self-contained HTML report of any lbdiag JSON document (probe, merge,
 * pcap, lab), dispatched on `command`. Loaded only when `--html` is given.
 */
import type { LabDocument, PcapDocument, ProbeDocument } from './document.js';
import { labPage } from './lab.js';
import { page } from './page.js';
import { pcapPage } from './pcap.js';
import { probePage } from './probe.js';

export type { HtmlDocument } from './document.js';

export function renderHtml(input: unknown): string {
  if (input === null || typeof input !== 'object') throw new TypeError('renderHtml: expected an lbdiag JSON document');
  const doc = input as { command?: string; version?: string };
  const generator = `lbdiag ${doc.version ?? ''}`.trim();
  let r: { title: string; body: string };
  switch (doc.command) {
    case 'pcap':
      r = pcapPage(doc as PcapDocument);
      break;
    case 'lab':
      r = labPage(doc as LabDocument);
      break;
    case 'probe':
    case 'merge':
      r = probePage(doc as ProbeDocument);
      break;
    default:
      // A document with per-mode tallies is drawn as a probe's.
      if ('modes' in doc) r = probePage({ ...(doc as ProbeDocument), command: 'probe' });
      else throw new TypeError(`renderHtml: unknown document command "${String(doc.command)}"`);
  }
  return page(r.title, r.body, generator);
}

/**
 * Colours of the HTML report: the Okabe-Ito palette (distinguishable with the common colour-vision
 * deficiencies). Backends keep one colour across the whole document (modes, steps, charts), chosen
 * by sorted name; beyond eight backends the colours repeat and the labels tell them apart. Errors
 * are drawn in dark grey with a hatch, never in a backend colour.
 */
export const BACKEND_COLOURS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#7F7F7F'];
export const ERROR_COLOUR = '#333333';
/** The hatch pattern for error bars, defined once per page (src/html/page.ts). */
export const HATCH_ID = 'lbdiag-hatch';
export const SEVERITY_COLOUR: Record<string, string> = { error: '#D55E00', warn: '#E69F00', info: '#0072B2' };

export class Palette {
  private readonly map = new Map<string, string>();

  constructor(names: Iterable<string>) {
    const sorted = [...new Set(names)].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    sorted.forEach((name, i) => this.map.set(name, BACKEND_COLOURS[i % BACKEND_COLOURS.length]));
  }

  colour(name: string): string {
    return this.map.get(name) ?? BACKEND_COLOURS[BACKEND_COLOURS.length - 1];
  }
}

// The Markdown side of `npm run docs` (scripts/docs.js): finding fenced blocks and the markers before
// them, telling which blocks show lbdiag output, cutting excerpts, normalising output for --check and
// splitting marker commands into the lbdiag invocations they make. Pure functions only (no processes,
// no files written), so test/docs-run.test.ts can load them in a few milliseconds.
//
// A marker is an HTML comment on the last non-blank line before a fenced block:
//
//   <!-- lbdiag:run cmd="lbdiag pcap fixtures/x.pcap" excerpt="/^ERROR/ to /fix:/" prompt -->
//   <!-- lbdiag:static reason="a real BIG-IP, not reproducible here" -->
//
// Attribute values are in double or single quotes; a bare name is a flag (true). A marker may run
// several commands in one block: `cmd`, `cmd.2`, `cmd.3`, ... with the per-command attributes suffixed
// the same way (`excerpt.2`, `display.2`, `exit.2`, `output.2`). See scripts/docs.js for their meaning.

/** `<!-- lbdiag:run ... -->` / `<!-- lbdiag:static ... -->` on a line of its own (indent allowed). */
const MARKER = /^(\s*)<!--\s*lbdiag:(run|static)\b([\s\S]*?)-->\s*$/;
const FENCE = /^(\s*)(`{3,}|~{3,})(.*)$/;

/** Parses `a="x" b='y' flag` into { a: 'x', b: 'y', flag: true }; throws on a malformed list. */
export function parseAttributes(text) {
  const out = {};
  const re = /\s*([A-Za-z][\w.-]*)(?:=(?:"([^"]*)"|'([^']*)'))?/y;
  let i = 0;
  const s = text.trim();
  while (i < s.length) {
    re.lastIndex = i;
    const m = re.exec(s);
    if (!m || m[0].length === 0) throw new Error(`cannot read marker attributes at "${s.slice(i, i + 30)}"`);
    const value = m[2] ?? m[3];
    if (Object.hasOwn(out, m[1])) throw new Error(`attribute ${m[1]} given twice`);
    out[m[1]] = value === undefined ? true : value.replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
    i = re.lastIndex;
    while (i < s.length && /\s/.test(s[i])) i++;
  }
  return out;
}

/**
 * Every fenced block of a Markdown text: `{ open, close }` (0-based line indexes of the fence lines),
 * `indent`, `fence`, `lang`, `body` (lines without the indent), and `marker` (`{ kind, attrs, line }`)
 * when a marker is the last non-blank line before it. A marker with no block after it is returned in
 * `orphans` (line numbers), as are malformed markers (`errors`).
 */
export function scanMarkdown(text) {
  const lines = text.split('\n');
  const blocks = [];
  const errors = [];
  const markerLines = new Set();
  for (let i = 0; i < lines.length; i++) {
    const f = FENCE.exec(lines[i]);
    if (!f) continue;
    const [, indent, fence, info] = f;
    let close = -1;
    for (let j = i + 1; j < lines.length; j++) {
      const c = /^(\s*)(`{3,}|~{3,})\s*$/.exec(lines[j]);
      if (c && c[2][0] === fence[0] && c[2].length >= fence.length) {
        close = j;
        break;
      }
    }
    if (close < 0) {
      errors.push({ line: i + 1, message: 'unclosed fenced block' });
      break;
    }
    let k = i - 1;
    while (k >= 0 && lines[k].trim() === '') k--;
    let marker = null;
    const m = k >= 0 ? MARKER.exec(lines[k]) : null;
    if (m) {
      markerLines.add(k);
      try {
        marker = { kind: m[2], attrs: parseAttributes(m[3]), line: k + 1 };
      } catch (e) {
        errors.push({ line: k + 1, message: `marker: ${e.message}` });
      }
    }
    const body = lines.slice(i + 1, close).map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l.trimStart()));
    blocks.push({ open: i, close, indent, fence, lang: info.trim(), body, marker });
    i = close;
  }
  const orphans = [];
  const fenced = (i) => blocks.some((b) => i > b.open && i < b.close);
  lines.forEach((l, i) => {
    if (MARKER.test(l) && !markerLines.has(i) && !fenced(i)) orphans.push(i + 1);
  });
  return { lines, blocks, errors, orphans };
}

/**
 * Lines that only lbdiag prints: a finding line, the summary line, a report's field labels, the
 * whoami identity headers and metrics, the lab's rules, the JSON envelope, an lbdiag error line, or a
 * table drawn with box characters. A block with one of them shows lbdiag output and must be marked.
 * Command lines (`lbdiag pcap x.pcap  # ...`) match none of these.
 */
const OUTPUT_SIGNS = [
  /^\s*(ERROR|WARN|INFO) [a-z0-9-]+( ×\d+)?  \S/,
  /^\d+ problems?: [a-z]/,
  /^No (problems found|TCP findings)/,
  /^\s*(where|evidence|filter|meaning|fix|also|open):\s{2,}\S/,
  /X-Lbdiag-(Backend|Conn|Instance|Pid|Started)/i,
  /^lbdiag(_whoami_| whoami: | whoami \d| merge \d|: )/,
  /^(═══ lab|─── lbdiag )/,
  /"schema": ?"lbdiag\.v1"|"event":"(listening|request|close)"/,
  /^\d{4}-\d\d-\d\dT[\d:.]+Z (request|close) conn=/,
  /^[┌│└├].*[┐│┘┤]\s*$/,
  /^(keepalive|short|rotate)\s.*\d+ requests/,
  /^\s*"(idleTimeoutMs|instance|xForwardedFor)": /,
  /<redacted, \d+ bytes>/,
  /^\$ lbdiag .*<TAB>/,
];

/** True when the block's body shows lbdiag output (see OUTPUT_SIGNS). */
export function isLbdiagOutput(body) {
  return body.some((line) => OUTPUT_SIGNS.some((re) => re.test(line)));
}

/**
 * The commands of a run marker, in order: `[{ n, cmd, display, excerpt, gap, output, exit, prompt }]`
 * from `cmd`, `cmd.2`, `cmd.3`, ... Other attributes apply to every command unless suffixed.
 */
export function markerSteps(attrs) {
  const steps = [];
  for (let n = 1; ; n++) {
    const sfx = n === 1 ? '' : `.${n}`;
    const cmd = attrs[`cmd${sfx}`];
    if (cmd === undefined) break;
    if (typeof cmd !== 'string' || cmd.trim() === '') throw new Error(`cmd${sfx} is empty`);
    // prompt, output, gap, drop, timeout carry over to cmd.2...; display, excerpt and exit are per command.
    const get = (k) => attrs[`${k}${sfx}`] ?? (n === 1 || ['display', 'excerpt', 'exit'].includes(k) ? undefined : attrs[k]);
    steps.push({
      n,
      cmd,
      display: get('display') ?? cmd,
      excerpt: get('excerpt'),
      drop: get('drop') === undefined ? undefined : new RegExp(String(get('drop'))),
      gap: get('gap') ?? '…',
      output: get('output') ?? 'stdout',
      exit: get('exit'),
      prompt: get('prompt') === true || get('prompt') === 'yes',
      timeout: Number(get('timeout') ?? 180),
    });
  }
  const known = /^(cmd|display|excerpt|gap|drop|output|exit|prompt|timeout|setup|check|note)(\.\d+)?$/;
  for (const k of Object.keys(attrs)) if (!known.test(k)) throw new Error(`unknown attribute ${k}`);
  if (steps.length === 0) throw new Error('lbdiag:run needs cmd="..."');
  for (const s of steps) {
    if (!['stdout', 'stderr', 'both'].includes(s.output)) throw new Error(`output must be stdout, stderr or both (got ${s.output})`);
    if (s.exit !== undefined && !/^\d+(,\d+)*$/.test(String(s.exit))) throw new Error(`exit must be a code or a list (got ${s.exit})`);
    if (!(s.timeout > 0)) throw new Error('timeout must be a number of seconds');
    if (s.excerpt !== undefined) parseExcerpt(String(s.excerpt));
  }
  return steps;
}

/**
 * Excerpt pieces, separated by `;`:
 *   `N`, `N-M`, `N-$`        lines by number (1-based; `$` the last)
 *   `/re/`                   the first line matching re (searched from the end of the previous piece)
 *   `/re/@K`                 the K-th such line (also before +N, *, to, until)
 *   `/re/+N`                 that line and the N after it
 *   `/re/*`                  every line matching re from there to the end
 *   `/re/ to /re2/`          from a line matching re to the next one matching re2, inclusive
 *   `/re/ until /re2/`       the same, without the re2 line
 *   `/re/ to end`            from the match to the last line (`N to /re/`, `N until /re/`: from line N)
 *   `[text]`                 a literal line `[text]` (and no automatic gap line next to it)
 *   `blank`                  a literal empty line (idem)
 * Pieces that are not adjacent in the output are joined by the gap line (`gap`, default `…`).
 */
export function parseExcerpt(spec) {
  const pieces = [];
  let i = 0;
  const s = spec;
  const skip = () => {
    while (i < s.length && /\s/.test(s[i])) i++;
  };
  const regex = () => {
    if (s[i] !== '/') throw new Error(`excerpt: expected /regex/ at "${s.slice(i, i + 20)}"`);
    let j = i + 1;
    let src = '';
    for (; j < s.length && s[j] !== '/'; j++) {
      if (s[j] === '\\' && j + 1 < s.length) {
        src += s[j] + s[j + 1];
        j++;
      } else src += s[j];
    }
    if (j >= s.length) throw new Error(`excerpt: unclosed /regex/ in "${spec}"`);
    i = j + 1;
    return new RegExp(src);
  };
  while (true) {
    skip();
    if (i >= s.length) break;
    let piece;
    if (s.startsWith('blank', i) && !/\w/.test(s[i + 5] ?? '')) {
      piece = { kind: 'text', text: '' };
      i += 5;
    } else if (s[i] === '[') {
      const j = s.indexOf(']', i);
      if (j < 0) throw new Error(`excerpt: unclosed [text] in "${spec}"`);
      piece = { kind: 'text', text: s.slice(i, j + 1) };
      i = j + 1;
    } else if (/\d/.test(s[i])) {
      const m = /^(\d+)(?:-(\d+|\$))?/.exec(s.slice(i));
      piece = { kind: 'lines', from: Number(m[1]), to: m[2] === undefined ? Number(m[1]) : m[2] === '$' ? Infinity : Number(m[2]) };
      i += m[0].length;
      skip();
      const r = m[2] === undefined ? /^(to|until)\b/.exec(s.slice(i)) : null;
      if (r) {
        // `N to /re/`: from line N to the next line matching re
        i += r[0].length;
        skip();
        piece = { kind: 'range', line: Number(m[1]), inclusive: r[1] === 'to', end: null };
        if (s.startsWith('end', i)) i += 3;
        else piece.end = regex();
      }
    } else {
      const re = regex();
      piece = { kind: 'match', re, after: 0, nth: 1 };
      const at = /^@(\d+)/.exec(s.slice(i));
      if (at) {
        piece.nth = Number(at[1]);
        i += at[0].length;
      }
      if (s[i] === '+') {
        const m = /^\+(\d+)/.exec(s.slice(i));
        if (!m) throw new Error(`excerpt: expected +N in "${spec}"`);
        piece.after = Number(m[1]);
        i += m[0].length;
      } else if (s[i] === '*') {
        piece.kind = 'all';
        i++;
      } else {
        skip();
        const m = /^(to|until)\b/.exec(s.slice(i));
        if (m) {
          i += m[0].length;
          skip();
          piece.kind = 'range';
          piece.inclusive = m[1] === 'to';
          if (s.startsWith('end', i)) {
            piece.end = null;
            i += 3;
          } else piece.end = regex();
        }
      }
    }
    pieces.push(piece);
    skip();
    if (i < s.length) {
      if (s[i] !== ';') throw new Error(`excerpt: expected ; at "${s.slice(i, i + 20)}" in "${spec}"`);
      i++;
    }
  }
  if (pieces.length === 0) throw new Error('excerpt is empty');
  return pieces;
}

/** Applies an excerpt to output lines; throws (naming the piece) when a pattern finds nothing. */
export function applyExcerpt(lines, spec, gap = '…') {
  const pieces = parseExcerpt(spec);
  const out = [];
  let cursor = 0; // index of the first line not yet passed
  let lastEnd = -1; // index after the last line taken, -1 before any
  let literalLast = false;
  const take = (from, to) => {
    if (from > to) return;
    if (lastEnd >= 0 && from !== lastEnd && !literalLast && gap !== '') out.push(gap);
    out.push(...lines.slice(from, to + 1));
    lastEnd = to + 1;
    cursor = to + 1;
    literalLast = false;
  };
  const find = (re, from, what, nth = 1) => {
    let seen = 0;
    for (let k = from; k < lines.length; k++) if (re.test(lines[k]) && ++seen === nth) return k;
    throw new Error(`excerpt ${what} ${re}${nth > 1 ? `@${nth}` : ''} matches no line${from > 0 ? ` after line ${from}` : ''}`);
  };
  for (const p of pieces) {
    if (p.kind === 'text') {
      out.push(p.text);
      literalLast = true;
      lastEnd = -1;
      continue;
    }
    if (p.kind === 'lines') {
      if (p.from < 1 || p.from > lines.length) throw new Error(`excerpt line ${p.from} is past the output's ${lines.length} lines`);
      take(p.from - 1, Math.min(p.to, lines.length) - 1);
    } else if (p.kind === 'match') {
      const k = find(p.re, cursor, 'line', p.nth);
      take(k, Math.min(k + p.after, lines.length - 1));
    } else if (p.kind === 'all') {
      const ks = [];
      for (let k = cursor; k < lines.length; k++) if (p.re.test(lines[k])) ks.push(k);
      if (ks.length === 0) throw new Error(`excerpt ${p.re}* matches no line`);
      for (const k of ks) take(k, k);
    } else {
      if (p.line !== undefined && (p.line < 1 || p.line > lines.length)) throw new Error(`excerpt line ${p.line} is past the output's ${lines.length} lines`);
      const k = p.line !== undefined ? p.line - 1 : find(p.re, cursor, 'start', p.nth);
      let end = lines.length - 1;
      if (p.end) {
        const e = find(p.end, k + 1, 'end');
        end = p.inclusive ? e : e - 1;
      }
      take(k, end);
    }
  }
  return out;
}

/**
 * The stable part of an output, for `npm run docs -- --check`: per line, every number (counts,
 * percentages, times, ports, pids, p-values), hex id and timestamp becomes `#`, bar and sparkline
 * characters and box-drawing rules are dropped, spaces collapse, and the words of the line are sorted
 * (backends swap places from run to run); then the distinct lines are sorted and blank ones dropped
 * (a line that shows once in one run and twice in another, e.g. a finding listed under two causes,
 * is the same kind of line). Two runs
 * of the same command differ after this only when a finding, a label, a message or the shape of a
 * report changed, or when the run itself came out differently (another finding raised).
 */
export function normalise(text) {
  return text
    .split('\n')
    .map((l) =>
      l
        .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, '#')
        .replace(/\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d \w{3} \d{4} [\d:]+ GMT/g, '#')
        .replace(/\b[0-9a-f]{8}\b/g, '#')
        .replace(/lbd[\w-]*\d[\w-]*/g, '#') // namespace / veth names the lab makes
        .replace(/\/tmp\/[\w./-]+/g, '#')
        .replace(/[<=>≈]\s*(?=\d)/g, '')
        .replace(/\d+(\.\d+)?(e[-+]?\d+)?(µs|us|ms|s|m|h|KiB|MiB|GiB|kB|KB|MB|GB|B|%|x|×)?(?![\w])/gi, '#')
        .replace(/[▁▂▃▄▅▆▇█▉▊▋▌▍▎▏·]+/g, ' ')
        .replace(/[─━═┌┐└┘├┤┬┴┼]+/g, ' ')
        .replace(/[│]/g, ' ')
        .replace(/#([^\s#]*#)+/g, '#')
        .split(/[\s(),;:]+/)
        .filter(Boolean)
        .sort()
        .join(' '),
    )
    .filter((l, i, all) => l !== '' && all.indexOf(l) === i)
    .sort();
}

/** The lines of `a` not in `b` and of `b` not in `a` (multisets), for a short --check report. */
export function lineDiff(a, b) {
  const count = new Map();
  for (const l of b) count.set(l, (count.get(l) ?? 0) + 1);
  const onlyA = [];
  for (const l of a) {
    const c = count.get(l) ?? 0;
    if (c > 0) count.set(l, c - 1);
    else onlyA.push(l);
  }
  const onlyB = [];
  for (const [l, c] of count) for (let k = 0; k < c; k++) onlyB.push(l);
  return { onlyA, onlyB };
}

/**
 * Shell words of a command line, enough for marker commands: single and double quotes, backslash
 * escapes, and `|`, `;`, `&&`, `||`, `&`, `>`, `<`, `2>&1` as separate operator tokens.
 */
export function shellWords(cmd) {
  const out = [];
  let word = null;
  let i = 0;
  const push = () => {
    if (word !== null) out.push(word);
    word = null;
  };
  while (i < cmd.length) {
    const c = cmd[i];
    if (/\s/.test(c)) {
      push();
      i++;
    } else if (c === "'") {
      const j = cmd.indexOf("'", i + 1);
      if (j < 0) throw new Error(`unclosed ' in ${cmd}`);
      word = (word ?? '') + cmd.slice(i + 1, j);
      i = j + 1;
    } else if (c === '"') {
      let j = i + 1;
      let w = '';
      for (; j < cmd.length && cmd[j] !== '"'; j++) {
        if (cmd[j] === '\\' && j + 1 < cmd.length) w += cmd[++j];
        else w += cmd[j];
      }
      if (j >= cmd.length) throw new Error(`unclosed " in ${cmd}`);
      word = (word ?? '') + w;
      i = j + 1;
    } else if (c === '\\' && i + 1 < cmd.length) {
      word = (word ?? '') + cmd[i + 1];
      i += 2;
    } else {
      const op = /^(\d?>&\d|\d?>>?|<\(|<|\|\||\||&&|&|;|\(|\))/.exec(cmd.slice(i));
      if (op && !(op[0][0] >= '0' && op[0][0] <= '9' && word !== null)) {
        push();
        out.push({ op: op[0] });
        i += op[0].length;
      } else {
        word = (word ?? '') + c;
        i++;
      }
    }
  }
  push();
  return out;
}

/**
 * The argument lists of every `lbdiag` invocation in a command line (what follows the word `lbdiag`
 * in command position, up to the next operator; redirection targets are dropped).
 */
export function lbdiagInvocations(cmd) {
  const words = shellWords(cmd);
  const out = [];
  let atCommand = true;
  let current = null;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (typeof w === 'object') {
      if (/^\d?>|^</.test(w.op) && !/&\d$/.test(w.op)) {
        i++; // the redirection's target
        continue;
      }
      if (current) out.push(current);
      current = null;
      atCommand = true;
      continue;
    }
    if (atCommand) {
      atCommand = false;
      if (/^[A-Z_][A-Z0-9_]*=/.test(w)) {
        atCommand = true; // VAR=value before the command
        continue;
      }
      if (w === 'lbdiag') current = [];
      else if (['timeout', 'taskset', 'exec', 'env', 'tini', 'ip'].includes(w) || w.endsWith('docs-session.sh')) {
        // wrappers: `timeout -s INT 2 lbdiag ...`, scripts/docs-session.sh ... -- lbdiag ...: look for lbdiag further on
        let j = i + 1;
        while (j < words.length && typeof words[j] === 'string' && words[j] !== 'lbdiag') j++;
        if (words[j] === 'lbdiag') {
          current = [];
          i = j;
        }
      }
      continue;
    }
    if (current) current.push(w);
  }
  if (current) out.push(current);
  return out;
}

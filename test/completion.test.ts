/**
 * `lbdiag completion bash|zsh|fish` and man/lbdiag.1, checked against commander's own lists: every
 * subcommand and every option of each (cmd.options, not the spec the scripts are rendered from), so
 * a new option that does not appear fails here. bash is exercised for real (the completion function
 * filling COMPREPLY); zsh and fish when installed (`.ci/run` installs them), else skipped with why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../src/cli.js';
import { bashCompletion } from '../src/completion/bash.js';
import { manPage, roffText } from '../src/completion/man-page.js';
import { commandSpec } from '../src/completion/spec.js';
import { hasCommand, ROOT, runLbdiag } from './support/processes.js';

/** Every option word of `cmd` as commander holds it (its own options plus the help option). */
function commanderWords(cmd: Command): string[] {
  const help = cmd.createHelp();
  const own = cmd.options.flatMap((o) => [o.short, o.long]);
  const helpOption = help.visibleOptions(cmd).filter((o) => !cmd.options.includes(o)).flatMap((o) => [o.short, o.long]);
  return [...own, ...helpOption].filter((w): w is string => typeof w === 'string').sort();
}

async function script(shell: string): Promise<string> {
  const r = await runLbdiag(['completion', shell], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

/**
 * Runs the bash completion function once per query (the last word of each is the one completed),
 * all in one bash process, in `cwd`; returns the sorted candidates per query.
 */
function bashComplete(file: string, queries: string[][], cwd = ROOT): string[][] {
  const quote = (w: string): string => `'${w.replace(/'/g, `'\\''`)}'`;
  const body = queries
    .map((words) => `COMP_WORDS=(${words.map(quote).join(' ')}); COMP_CWORD=${words.length - 1}; COMPREPLY=(); _lbdiag_completion; printf '%s\\n' "\${COMPREPLY[@]}"; echo '@@'`)
    .join('\n');
  const r = spawnSync('bash', ['--norc', '-c', `source '${file}' || exit 1\n${body}`], { cwd, encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  const out = r.stdout.split('@@\n');
  return queries.map((_, i) => (out[i] ?? '').split('\n').filter((l) => l !== '').sort());
}

test('bash: the script parses, loads (complete -p), and completes every subcommand, option and choice commander holds', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lbdiag-completion-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'lbdiag.bash');
  writeFileSync(file, await script('bash'));
  assert.equal(spawnSync('bash', ['-n', file]).status, 0, 'bash -n');
  const loaded = spawnSync('bash', ['--norc', '-c', `source '${file}' && complete -p lbdiag`], { encoding: 'utf8' });
  assert.equal(loaded.status, 0, loaded.stderr);
  assert.match(loaded.stdout, /^complete -F _lbdiag_completion lbdiag$/m);

  const program = await buildProgram();
  const names = program.createHelp().visibleCommands(program).map((c) => c.name()).sort();
  assert.ok(names.includes('completion') && names.includes('probe') && names.includes('help'));
  const cases: { words: string[]; expected: string[]; what: string }[] = [
    { words: ['lbdiag', ''], expected: names, what: 'subcommands' },
    { words: ['lbdiag', '-'], expected: commanderWords(program), what: 'lbdiag options' },
    // An option is completed after other options and their values too.
    { words: ['lbdiag', 'lab', '--scenario', 'all', '--sc'], expected: ['--scenario'], what: 'after a value' },
    { words: ['lbdiag', 'help', 'pc'], expected: ['pcap'], what: 'help <command>' },
  ];
  for (const cmd of program.commands) {
    cases.push({ words: ['lbdiag', cmd.name(), '-'], expected: commanderWords(cmd), what: `options of ${cmd.name()}` });
    for (const o of cmd.options.filter((o) => o.argChoices !== undefined && o.long !== undefined)) {
      const choices = [...o.argChoices!].sort();
      cases.push({ words: ['lbdiag', cmd.name(), o.long!, ''], expected: choices, what: `${o.long} values` });
      cases.push({ words: ['lbdiag', cmd.name(), o.long!, '=', ''], expected: choices, what: `${o.long}= values` });
    }
  }
  const got = bashComplete(file, cases.map((c) => c.words));
  cases.forEach((c, i) => assert.deepEqual(got[i], c.expected, c.what));
  // pcap's <files...> complete file names.
  writeFileSync(path.join(dir, 'capture-a.pcap'), '');
  writeFileSync(path.join(dir, 'capture-b.pcapng'), '');
  assert.deepEqual(bashComplete(file, [['lbdiag', 'pcap', '--json', 'capture-']], dir)[0], ['capture-a.pcap', 'capture-b.pcapng']);
});

test('a new option or subcommand appears in the completion and the man page by itself', async () => {
  const program = await buildProgram();
  program.commands.find((c) => c.name() === 'pcap')!.option('--zz-brand-new <file>', 'an option added after the fact');
  program.command('zz-new-command').description('a subcommand added after the fact').option('--zz-flag', 'a flag');
  const spec = commandSpec(program);
  const bash = bashCompletion(spec, '0');
  assert.match(bash, /--zz-brand-new\) compopt -o filenames/);
  assert.match(bash, /'whoami probe pcap lab completion zz-new-command help'|zz-new-command\)/);
  const man = manPage(spec, { version: '0', date: '2026-01-01' });
  assert.ok(man.includes(roffText('--zz-brand-new')) && man.includes(roffText('lbdiag zz-new-command')));
});

test('zsh: the script parses and registers _lbdiag with compinit', { skip: hasCommand('zsh') ? false : 'zsh is not installed (.ci/run installs it)' }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lbdiag-completion-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, '_lbdiag');
  const text = await script('zsh');
  writeFileSync(file, text);
  const syntax = spawnSync('zsh', ['-n', file], { encoding: 'utf8' });
  assert.equal(syntax.status, 0, syntax.stderr);
  const r = spawnSync('zsh', ['-f', '-c', `autoload -Uz compinit && compinit -u -D && source '${file}' && print -r -- \${_comps[lbdiag]}`], {
    encoding: 'utf8',
    timeout: 20_000,
    env: { ...process.env, HOME: dir },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), '_lbdiag');
  const program = await buildProgram();
  for (const cmd of program.commands) {
    const block = text.slice(text.indexOf(`'${cmd.name()}')`));
    for (const w of commanderWords(cmd)) assert.ok(block.includes(`${w}[`), `zsh: ${cmd.name()} ${w}`);
  }
});

test('fish: the script parses and `complete -C` lists every subcommand and option', { skip: hasCommand('fish') ? false : 'fish is not installed (.ci/run installs it)' }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lbdiag-completion-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'lbdiag.fish');
  writeFileSync(file, await script('fish'));
  assert.equal(spawnSync('fish', ['-n', file]).status, 0, 'fish -n');
  const fish = (line: string): string[] => {
    const r = spawnSync('fish', ['--no-config', '-c', `source '${file}'; complete -C'${line}'`], { encoding: 'utf8', timeout: 20_000, env: { ...process.env, HOME: dir } });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t')[0]).sort();
  };
  const program = await buildProgram();
  assert.deepEqual(fish('lbdiag '), program.createHelp().visibleCommands(program).map((c) => c.name()).sort());
  for (const cmd of program.commands) {
    const longs = commanderWords(cmd).filter((w) => w.startsWith('--'));
    assert.deepEqual(fish(`lbdiag ${cmd.name()} --`), longs, `fish: ${cmd.name()}`);
  }
  assert.deepEqual(fish('lbdiag lab --scenario '), ['all', 'grpc', 'pinning', 'scale-up', 'source-affinity', 'stale-listener', 'stall']);
});

test('man/lbdiag.1: built from the current help, every subcommand and option in it, renders without warnings', async () => {
  const file = path.join(ROOT, 'man', 'lbdiag.1');
  const text = readFileSync(file, 'utf8');
  const program = await buildProgram();
  const fresh = manPage(commandSpec(program), { version: 'x', date: 'x' });
  const body = (s: string): string => s.split('\n').filter((l) => !l.startsWith('.TH ')).join('\n');
  assert.equal(body(text), body(fresh), 'man/lbdiag.1 is what the build renders now (npm run build regenerates it)');
  const helps = await Promise.all(program.commands.map((cmd) => runLbdiag([cmd.name(), '--help'], { timeoutMs: 30_000 })));
  for (const [i, cmd] of program.commands.entries()) {
    assert.ok(text.includes(`.SS "lbdiag ${cmd.name()}"`), cmd.name());
    // The examples and notes --help prints after the options are in it, line by line.
    const help = helps[i];
    const after = help.stdout.slice(help.stdout.search(/\n\n(Examples|Install|Scenarios|Findings)/));
    assert.ok(after.length > 40, `${cmd.name()} --help has examples`);
    for (const l of after.split('\n').filter((l) => l.trim() !== '')) assert.ok(text.includes(roffText(l.trimEnd())), `man: ${cmd.name()}: ${l}`);
    for (const w of commanderWords(cmd)) assert.ok(text.includes(roffText(w)), `man: ${cmd.name()} ${w}`);
  }
  const groff = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z', file], { encoding: 'utf8' });
  if (groff.error === undefined) {
    assert.equal(groff.status, 0);
    assert.equal(groff.stderr, '', 'groff -ww: no warnings');
  }
  if (hasCommand('mandoc')) {
    const lint = spawnSync('mandoc', ['-Tlint', file], { encoding: 'utf8' });
    assert.equal(lint.status, 0, lint.stdout + lint.stderr);
  }
});

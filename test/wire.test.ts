/** The whoami ↔ probe wire contract (src/wire/identity-headers.ts): the names on the wire and the X-Lbdiag-Conn format. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKEND_HEADER, BACKEND_KEY, CONN_HEADER, CONN_KEY, formatConn, INSTANCE_HEADER, INSTANCE_KEY, parseConn, parseStarted, PID_HEADER, PID_KEY, STARTED_HEADER, STARTED_KEY } from '../src/wire/identity-headers.js';

test('header names are the documented ones; keys are their lower case', () => {
  // Literal on purpose: users' scripts and older probes read these names.
  assert.deepEqual([BACKEND_HEADER, INSTANCE_HEADER, CONN_HEADER, PID_HEADER, STARTED_HEADER], ['X-Lbdiag-Backend', 'X-Lbdiag-Instance', 'X-Lbdiag-Conn', 'X-Lbdiag-Pid', 'X-Lbdiag-Started']);
  assert.deepEqual([BACKEND_KEY, INSTANCE_KEY, CONN_KEY, PID_KEY, STARTED_KEY], [BACKEND_HEADER, INSTANCE_HEADER, CONN_HEADER, PID_HEADER, STARTED_HEADER].map((h) => h.toLowerCase()));
});

test('X-Lbdiag-Conn: formatConn and parseConn round-trip; the parser stays lenient', () => {
  assert.equal(formatConn(7, 3), '7;seq=3');
  assert.deepEqual(parseConn(formatConn(12, 1)), { conn: '12', seq: 1 });
  assert.deepEqual(parseConn(' 4 ; seq=9 '), { conn: '4', seq: 9 });
  assert.deepEqual(parseConn('127.0.0.1:40000'), { conn: '127.0.0.1:40000' });
  assert.equal(parseConn(''), null);
  assert.equal(parseConn(';seq=2'), null);
});

test('X-Lbdiag-Started: integer epoch ms, else undefined', () => {
  assert.equal(parseStarted('1764600000123'), 1764600000123);
  assert.equal(parseStarted(undefined), undefined);
  assert.equal(parseStarted('1.5e12'), undefined);
  assert.equal(parseStarted('soon'), undefined);
});

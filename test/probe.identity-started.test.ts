/** X-Lbdiag-Started (whoami generation start) read from real response bytes; optional for older whoami. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResponseParser, type HttpResponse } from '../src/probe/http-response.js';
import { identify } from '../src/probe/identity.js';

function parse(head: string, body = 'ok'): HttpResponse {
  const p = new ResponseParser(16 * 1024, false);
  assert.ok(p.feed(Buffer.from(`HTTP/1.1 200 OK\r\n${head}Content-Length: ${body.length}\r\n\r\n${body}`)));
  return p.response!;
}

test('X-Lbdiag-Started: epoch ms as a number; absent or malformed: undefined', () => {
  const base = 'X-Lbdiag-Backend: app\r\nX-Lbdiag-Instance: 9f3c\r\nX-Lbdiag-Pid: 4242\r\nX-Lbdiag-Conn: 7;seq=2\r\n';
  const id = identify(parse(`${base}X-Lbdiag-Started: 1764600000123\r\n`), { kind: 'auto' }, false);
  assert.deepEqual([id.backend, id.instance, id.pid, id.started], ['app', '9f3c', 4242, 1764600000123]);
  assert.equal(identify(parse(base), { kind: 'auto' }, false).started, undefined);
  assert.equal(identify(parse(`${base}X-Lbdiag-Started: soon\r\n`), { kind: 'auto' }, false).started, undefined);
  assert.equal(identify(parse(`${base}X-Lbdiag-Started: 1.5e12\r\n`), { kind: 'auto' }, false).started, undefined);
});

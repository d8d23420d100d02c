/**
 * The floor for any Node HTTP/2 server: node:http2 (core stream API, cleartext, prior knowledge)
 * answering its hostname, nothing else. The anchor whoami's h2c throughput is compared with.
 * Usage: node dist/bench/servers/bare-h2.js --host 127.0.60.12 --port 8080
 * Prints "listening" on stdout once bound.
 */
import http2 from 'node:http2';
import os from 'node:os';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '0' } } });
const body = `${os.hostname()}\n`;
const server = http2.createServer();
server.on('stream', (stream) => {
  stream.respond({ ':status': 200, 'content-type': 'text/plain' });
  stream.end(body);
});
server.on('sessionError', () => {});
server.listen(Number(values.port), values.host, () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => process.exit(0));

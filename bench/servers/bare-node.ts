/**
 * The floor for any Node HTTP server: node:http answering its hostname, nothing else.
 * Usage: node dist/bench/servers/bare-node.js --host 127.0.60.2 --port 8080
 * Prints "listening" on stdout once bound.
 */
import http from 'node:http';
import os from 'node:os';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { host: { type: 'string', default: '127.0.0.1' }, port: { type: 'string', default: '0' } } });
const body = `${os.hostname()}\n`;
const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(body);
});
server.listen(Number(values.port), values.host, () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)).closeAllConnections());

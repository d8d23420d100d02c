// Clients for docs/whoami.md's HTTP/2 and TLS examples (run by scripts/docs-session.sh):
//   node whoami-h2.mjs streams http://HOST:PORT   three streams on one h2c connection (prior knowledge)
//   node whoami-h2.mjs tls https://HOST:PORT      /api over h2 with SNI whoami.test, then over HTTP/1.1
//                                                 (node:https, no ALPN, SNI localhost); -k: self-signed
import http2 from 'node:http2';
import https from 'node:https';

const [mode, url] = process.argv.slice(2);

/** One request on an HTTP/2 session: resolves { headers, body }. */
function h2get(session, path) {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': path });
    let headers = {};
    let body = '';
    req.setEncoding('utf8');
    req.on('response', (h) => (headers = h));
    req.on('data', (d) => (body += d));
    req.on('end', () => resolve({ headers, body }));
    req.on('error', reject);
    req.end();
  });
}

if (mode === 'streams') {
  const session = http2.connect(url);
  for (const path of ['/', '/', '/api']) {
    const { headers } = await h2get(session, path);
    console.log(`${path} ${headers[':status']} x-lbdiag-conn: ${headers['x-lbdiag-conn']} x-lbdiag-backend: ${headers['x-lbdiag-backend']}`);
  }
  session.close();
} else if (mode === 'tls') {
  const session = http2.connect(url, { servername: 'whoami.test', rejectUnauthorized: false });
  const { body } = await h2get(session, '/api');
  const a = JSON.parse(body);
  console.log(`${a.protocol} ${a.stream} ${JSON.stringify(a.tls)}`);
  session.close();
  await new Promise((resolve, reject) => {
    https
      .get(`${url}/api`, { rejectUnauthorized: false, servername: 'localhost', agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          const b = JSON.parse(text);
          console.log(`${b.protocol} ${JSON.stringify(b.tls)} ${res.headers['x-lbdiag-conn']}`);
          resolve();
        });
      })
      .on('error', reject);
  });
} else {
  console.error('usage: node whoami-h2.mjs streams|tls URL');
  process.exit(2);
}

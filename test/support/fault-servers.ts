/**
 * Real TCP servers on loopback that answer HTTP badly on purpose: trickling, endless, oversized,
 * malformed. Each connection gets `behave(socket)`; every timer a behaviour starts is cleared when
 * its socket closes, and `close()` destroys every socket, so nothing outlives the test.
 */
import net from 'node:net';

export type Behaviour = (s: net.Socket, every: (ms: number, fn: () => boolean | void) => void) => void;

export interface FaultServer {
  port: number;
  host: string;
  connections: number;
  close: () => Promise<void>;
}

export async function startFaultServer(host: string, behave: Behaviour): Promise<FaultServer> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    handle.connections++;
    const timers: NodeJS.Timeout[] = [];
    s.on('error', () => undefined);
    s.on('close', () => {
      sockets.delete(s);
      for (const t of timers) clearInterval(t);
    });
    /** Calls fn every ms while the socket is writable; fn returning false stops it. */
    const every = (ms: number, fn: () => boolean | void): void => {
      const t = setInterval(() => {
        if (s.destroyed || !s.writable) return clearInterval(t);
        if (fn() === false) clearInterval(t);
      }, ms);
      timers.push(t);
    };
    behave(s, every);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const handle: FaultServer = {
    port: (server.address() as net.AddressInfo).port,
    host,
    connections: 0,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  return handle;
}

/** Reads the request head, then calls `answer` (once per request on the connection). */
export function onRequest(s: net.Socket, answer: () => void): void {
  let buf = '';
  s.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    let i: number;
    while ((i = buf.indexOf('\r\n\r\n')) >= 0) {
      buf = buf.slice(i + 4);
      answer();
    }
  });
}

/** The fault servers of issue 10.6, with the error kind each must produce. */
export const FAULTS: { name: string; kind: string; behave: Behaviour }[] = [
  {
    name: 'trickle body (1 byte / 200 ms)',
    kind: 'body-timeout',
    behave: (s, every) =>
      onRequest(s, () => {
        s.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n');
        every(200, () => void s.write('x'));
      }),
  },
  {
    name: 'trickle head (1 byte / 200 ms)',
    kind: 'head-timeout',
    behave: (s, every) =>
      onRequest(s, () => {
        s.write('HTTP/1.1 200 OK\r\n');
        every(200, () => void s.write('X'));
      }),
  },
  {
    name: 'endless body (chunked, as fast as the socket takes it)',
    kind: 'body-timeout',
    behave: (s, every) =>
      onRequest(s, () => {
        s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
        const chunk = `4000\r\n${'y'.repeat(0x4000)}\r\n`;
        every(5, () => {
          while (s.writableLength < 1 << 20) s.write(chunk);
        });
      }),
  },
  {
    name: 'close-delimited body that never ends',
    kind: 'body-timeout',
    behave: (s, every) =>
      onRequest(s, () => {
        s.write('HTTP/1.1 200 OK\r\n\r\n');
        every(20, () => void s.write('z'.repeat(1000)));
      }),
  },
  {
    name: '100 Continue every 500 ms',
    kind: 'head-timeout',
    behave: (s, every) =>
      onRequest(s, () => {
        s.write('HTTP/1.1 100 Continue\r\n\r\n');
        every(500, () => void s.write('HTTP/1.1 100 Continue\r\n\r\n'));
      }),
  },
  {
    name: '1xx flood',
    kind: 'too-many-1xx',
    behave: (s) => onRequest(s, () => s.write('HTTP/1.1 102 Processing\r\n\r\n'.repeat(1000))),
  },
  {
    name: 'endless chunk-size line',
    kind: 'chunk-line-too-long',
    behave: (s, every) =>
      onRequest(s, () => {
        s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1');
        const digits = '0'.repeat(2048);
        const fill = (): void => {
          while (s.writableLength < 64 * 1024) s.write(digits);
        };
        fill(); // past the 4 KiB cap at once: the outcome must not depend on timer latency
        every(5, fill);
      }),
  },
  {
    name: 'endless response head',
    kind: 'head-too-large',
    behave: (s, every) =>
      onRequest(s, () => {
        s.write('HTTP/1.1 200 OK\r\n');
        const filler = `X-Filler: ${'f'.repeat(2000)}\r\n`.repeat(8);
        const fill = (): void => {
          while (s.writableLength < 256 * 1024) s.write(filler);
        };
        fill(); // more than the 64 KiB cap at once: the outcome must not depend on timer latency
        every(5, fill);
      }),
  },
];

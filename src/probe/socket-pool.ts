/**
 * Reusable `net.Socket` objects for plain-TCP probe connections. A Socket may be connected
 * again once it has emitted 'close' (documented in node:net), and doing so skips building the
 * stream state and listeners anew: with a new connection per request this is about a third of
 * the client's CPU per request. Each socket's listeners, registered once, forward to whichever
 * connection owns it now; a socket goes back to the free list when it closes.
 */
import net from 'node:net';

export interface SocketOwner {
  onConnect(): void;
  /** `d[0..n)` holds the bytes read; `d` is the thread's shared read buffer, valid only during the call. */
  onData(d: Buffer, n: number): void;
  onEnd(): void;
  onError(e: Error): void;
  onClose(): void;
}

const OWNER = Symbol('owner');

/**
 * One read buffer for every pooled socket of this thread (net.Socket's documented `onread`
 * option): each read lands here and goes straight to its connection's parser, synchronously,
 * without the stream machinery (a Buffer, a push, a 'data' emit and a nextTick per read). The
 * parser copies whatever it keeps (head text, body bytes, a partial head), so nothing refers to
 * this buffer after the callback returns.
 */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);
type PooledSocket = net.Socket & { [OWNER]: SocketOwner | null };

export class SocketPool {
  private free: PooledSocket[] = [];
  private closed = false;

  constructor(private readonly maxFree: number) {}

  /** A socket (not yet connected) whose events go to `owner` until it closes. */
  take(owner: SocketOwner): net.Socket {
    const s = this.free.pop() ?? this.make();
    s[OWNER] = owner;
    return s;
  }

  /** Stops recycling: sockets closing from now on are left to the garbage collector. */
  close(): void {
    this.closed = true;
    this.free = [];
  }

  private make(): PooledSocket {
    // allowHalfOpen: the server's FIN is answered by destroy() (one close), not end() + close.
    // `onread` is documented for the Socket constructor too (node:net); @types/node lists it for connect() only.
    const s = new net.Socket({
      allowHalfOpen: true,
      onread: {
        buffer: READ_BUFFER,
        callback: (n: number, buf: Uint8Array): boolean => {
          s[OWNER]?.onData(buf as Buffer, n);
          return true;
        },
      },
    } as net.SocketConstructorOpts & { onread: net.OnReadOpts }) as PooledSocket;
    s[OWNER] = null;
    s.on('connect', () => s[OWNER]?.onConnect());
    s.on('end', () => {
      const o = s[OWNER];
      if (o) o.onEnd();
      else s.destroy();
    });
    s.on('error', (e: Error) => s[OWNER]?.onError(e));
    s.on('close', () => {
      const o = s[OWNER];
      s[OWNER] = null;
      o?.onClose();
      if (!this.closed && this.free.length < this.maxFree) this.free.push(s);
    });
    return s;
  }
}

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
  onData(d: Buffer): void;
  onEnd(): void;
  onError(e: Error): void;
  onClose(): void;
}

const OWNER = Symbol('owner');
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
    const s = new net.Socket({ allowHalfOpen: true }) as PooledSocket;
    s[OWNER] = null;
    s.on('connect', () => s[OWNER]?.onConnect());
    s.on('data', (d: Buffer) => s[OWNER]?.onData(d));
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

/**
 * Fixtures for the tests that put real balancers over small non-whoami backends (probe verdicts,
 * probe --workers): a list of stops undone in reverse after the file's tests, hostname backends on
 * a loopback /24, and balancers registered in that list.
 */
import { after } from 'node:test';
import type { Balancer, BackendTarget } from '../../src/lab/balancers/index.js';
import { startHostnameServer } from './hostname-server.js';

export type Stoppers = (() => Promise<unknown>)[];

/** A list of stops, run in reverse order (errors ignored) once every test of the file has ended. */
export function stopAfterAll(): Stoppers {
  const stoppers: Stoppers = [];
  after(async () => {
    for (const s of stoppers.reverse()) await s().catch(() => undefined);
  });
  return stoppers;
}

/** n hostname backends named web1..webN on `${net}.${first}`, `${net}.${first + 1}`, ... */
export async function hostnameBackends(stoppers: Stoppers, net: string, n: number, first: number): Promise<BackendTarget[]> {
  const out: BackendTarget[] = [];
  for (let i = 0; i < n; i++) {
    const s = await startHostnameServer({ host: `${net}.${first + i}`, name: `web${i + 1}` });
    stoppers.push(() => s.stop());
    out.push({ host: s.host, port: s.port, name: `web${i + 1}` });
  }
  return out;
}

/** Awaits a balancer's start and registers its stop. */
export async function keepBalancer(stoppers: Stoppers, b: Promise<Balancer>): Promise<Balancer> {
  const lb = await b;
  stoppers.push(() => lb.stop());
  return lb;
}

/**
 * Who this backend is: its name (flag, else the Kubernetes pod name, else the hostname), a random
 * instance id fixed per process start, and the addresses it can be reached on. Reads only the
 * three downward-API variables it documents; never the rest of the environment.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { InterfaceAddress, Kubernetes } from '../wire/identity-headers.js';

function newInstanceId(): string {
  return randomBytes(4).toString('hex');
}

/** POD_NAME / POD_NAMESPACE / NODE_NAME from the downward API, or undefined when none is set. */
export function kubernetesFromEnv(env: NodeJS.ProcessEnv = process.env): Kubernetes | undefined {
  const k: Kubernetes = {};
  if (env.POD_NAME) k.pod = env.POD_NAME;
  if (env.POD_NAMESPACE) k.namespace = env.POD_NAMESPACE;
  if (env.NODE_NAME) k.node = env.NODE_NAME;
  return Object.keys(k).length > 0 ? k : undefined;
}

export function defaultName(env: NodeJS.ProcessEnv = process.env): string {
  return env.POD_NAME || os.hostname();
}

/** A backend name goes into a response header: printable ASCII, no leading/trailing space. */
export function isValidName(name: string): boolean {
  return name.length > 0 && name.length <= 200 && /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(name);
}

/** Non-loopback, non-link-local addresses with their interface names. */
export function interfaceAddresses(): InterfaceAddress[] {
  const out: InterfaceAddress[] = [];
  const all = os.networkInterfaces();
  for (const [name, list] of Object.entries(all)) {
    for (const a of list ?? []) {
      if (a.internal) continue;
      if (a.family === 'IPv6' && /^fe[89ab]/i.test(a.address)) continue;
      if (a.family === 'IPv4' && a.address.startsWith('169.254.')) continue;
      out.push({ interface: name, address: a.address, family: a.family as 'IPv4' | 'IPv6' });
    }
  }
  return out;
}

/**
 * One whoami start: its id (X-Lbdiag-Instance) and start time (X-Lbdiag-Started), shared by every
 * worker. Worker `worker` of `workers` numbers its connections worker, worker + workers, ... so a
 * connection id is unique within the generation, not only within the process.
 */
export interface Generation {
  instance: string;
  startedMs: number;
  worker?: number;
  workers?: number;
}

export function newGeneration(): Generation {
  return { instance: newInstanceId(), startedMs: Date.now() };
}

/**
 * The gRPC side of the whoami ↔ probe wire contract: the two services whoami answers
 * (`grpc.health.v1.Health/Check`, the standard health check every gRPC-aware balancer speaks, and
 * `lbdiag.v1.WhoAmI/Get`, the identity), their messages encoded by protobufjs from the .proto text
 * below (no hand-written protobuf), and gRPC's length-prefixed message framing.
 *
 * Identity travels in response metadata too: the same `x-lbdiag-*` names as the HTTP/1.1 headers
 * (see identity-headers.ts), so `--backend-from header:NAME` and the probe's identity reader work
 * the same for every protocol.
 */
import protobuf from 'protobufjs';

export * from './grpc-constants.js';

/** grpc.health.v1 (grpc/grpc-proto health.proto, Check only) and lbdiag.v1. */
export const PROTO_TEXT = `
syntax = "proto3";
package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse {
  enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
  ServingStatus status = 1;
}
service Health { rpc Check(HealthCheckRequest) returns (HealthCheckResponse); }
`;

export const LBDIAG_PROTO_TEXT = `
syntax = "proto3";
package lbdiag.v1;
message GetRequest {}
message GetResponse {
  string backend = 1;
  string instance = 2;
  uint32 pid = 3;
  string conn = 4;
  uint32 seq = 5;
  uint32 stream = 6;
  string protocol = 7;
  uint64 started = 8;
  string remote_address = 9;
  uint32 remote_port = 10;
}
service WhoAmI { rpc Get(GetRequest) returns (GetResponse); }
`;

const root = new protobuf.Root();
protobuf.parse(PROTO_TEXT, root, { keepCase: true });
protobuf.parse(LBDIAG_PROTO_TEXT, root, { keepCase: true });

const HealthCheckRequest = root.lookupType('grpc.health.v1.HealthCheckRequest');
const HealthCheckResponse = root.lookupType('grpc.health.v1.HealthCheckResponse');
const GetRequest = root.lookupType('lbdiag.v1.GetRequest');
const GetResponse = root.lookupType('lbdiag.v1.GetResponse');

export interface WhoAmIReply {
  backend: string;
  instance: string;
  pid: number;
  conn: string;
  seq: number;
  stream: number;
  protocol: string;
  started: number;
  remote_address: string;
  remote_port: number;
}

export function encodeHealthCheckRequest(service = ''): Uint8Array {
  // proto3: an empty string is the default and is not sent.
  return HealthCheckRequest.encode(HealthCheckRequest.create(service ? { service } : {})).finish();
}

export function decodeHealthCheckRequest(bytes: Uint8Array): { service: string } {
  const o = HealthCheckRequest.toObject(HealthCheckRequest.decode(bytes), { defaults: true });
  return { service: String(o.service ?? '') };
}

export function encodeHealthCheckResponse(status: number): Uint8Array {
  return HealthCheckResponse.encode(HealthCheckResponse.create({ status })).finish();
}

export function decodeHealthCheckResponse(bytes: Uint8Array): { status: number } {
  const o = HealthCheckResponse.toObject(HealthCheckResponse.decode(bytes), { defaults: true, enums: Number });
  return { status: Number(o.status ?? 0) };
}

export function encodeGetRequest(): Uint8Array {
  return GetRequest.encode(GetRequest.create({})).finish();
}

export function encodeGetResponse(reply: WhoAmIReply): Uint8Array {
  return GetResponse.encode(GetResponse.create(reply)).finish();
}

export function decodeGetResponse(bytes: Uint8Array): WhoAmIReply {
  const o = GetResponse.toObject(GetResponse.decode(bytes), { defaults: true, longs: Number });
  return {
    backend: String(o.backend),
    instance: String(o.instance),
    pid: Number(o.pid),
    conn: String(o.conn),
    seq: Number(o.seq),
    stream: Number(o.stream),
    protocol: String(o.protocol),
    started: Number(o.started),
    remote_address: String(o.remote_address),
    remote_port: Number(o.remote_port),
  };
}

/** One gRPC length-prefixed message: flag byte (0: not compressed), 4-byte big-endian length, payload. */
export function frameMessage(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + payload.length);
  out[0] = 0;
  out.writeUInt32BE(payload.length, 1);
  out.set(payload, 5);
  return out;
}

export type Unframed =
  | { ok: true; payload: Buffer; rest: Buffer }
  | { ok: false; reason: 'incomplete' | 'compressed' | 'too-large' };

/**
 * Reads the first length-prefixed message of `buf`. `incomplete` when more bytes are needed;
 * `compressed` when the flag says so (neither side negotiates compression); `too-large` past maxBytes.
 */
export function unframeMessage(buf: Buffer, maxBytes = 4 * 1024 * 1024): Unframed {
  if (buf.length < 5) return { ok: false, reason: 'incomplete' };
  if (buf[0] !== 0) return { ok: false, reason: 'compressed' };
  const len = buf.readUInt32BE(1);
  if (len > maxBytes) return { ok: false, reason: 'too-large' };
  if (buf.length < 5 + len) return { ok: false, reason: 'incomplete' };
  return { ok: true, payload: buf.subarray(5, 5 + len), rest: buf.subarray(5 + len) };
}

import test from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeGetResponse,
  decodeHealthCheckRequest,
  decodeHealthCheckResponse,
  encodeGetResponse,
  encodeHealthCheckRequest,
  encodeHealthCheckResponse,
  frameMessage,
  SERVING_STATUS,
  unframeMessage,
} from '../src/wire/grpc.js';

test('grpc wire: health messages round-trip and match the protobuf encoding of grpc.health.v1', () => {
  // HealthCheckResponse{status: SERVING} is field 1, varint 1: 08 01 (protobuf encoding spec).
  assert.deepEqual([...encodeHealthCheckResponse(SERVING_STATUS.SERVING)], [0x08, 0x01]);
  assert.equal(decodeHealthCheckResponse(Buffer.from([0x08, 0x02])).status, SERVING_STATUS.NOT_SERVING);
  // HealthCheckRequest{service: "a"} is field 1, length-delimited: 0a 01 61; an empty request is empty.
  assert.deepEqual([...encodeHealthCheckRequest('a')], [0x0a, 0x01, 0x61]);
  assert.equal(encodeHealthCheckRequest().length, 0);
  assert.equal(decodeHealthCheckRequest(new Uint8Array(0)).service, '');
});

test('grpc wire: WhoAmI reply round-trips every field', () => {
  const reply = {
    backend: 'b1', instance: 'i-1', pid: 4242, conn: '7', seq: 3, stream: 5, protocol: 'h2c',
    started: 1764612000123, remote_address: '127.0.0.1', remote_port: 50123,
  };
  assert.deepEqual(decodeGetResponse(encodeGetResponse(reply)), reply);
});

test('grpc wire: length-prefixed framing, partial input and refusals', () => {
  const framed = frameMessage(Buffer.from([1, 2, 3]));
  assert.deepEqual([...framed], [0, 0, 0, 0, 3, 1, 2, 3]);
  const two = Buffer.concat([framed, framed.subarray(0, 6)]);
  const first = unframeMessage(two);
  assert.ok(first.ok);
  if (first.ok) {
    assert.deepEqual([...first.payload], [1, 2, 3]);
    assert.deepEqual(unframeMessage(first.rest), { ok: false, reason: 'incomplete' });
  }
  assert.deepEqual(unframeMessage(Buffer.from([1, 0, 0, 0, 0])), { ok: false, reason: 'compressed' });
  assert.deepEqual(unframeMessage(Buffer.from([0, 0xff, 0, 0, 0])), { ok: false, reason: 'too-large' });
});

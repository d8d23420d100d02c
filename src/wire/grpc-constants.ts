/**
 * The gRPC contract's names and numbers (paths, content type, status codes), apart from the
 * protobuf codec in grpc.ts: code that only needs these (the lab's HTTP/2 proxy) does not load and
 * parse protobufjs at start. Imports nothing.
 */
export const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check';
export const WHOAMI_GET_PATH = '/lbdiag.v1.WhoAmI/Get';
export const GRPC_CONTENT_TYPE = 'application/grpc';

/** grpc.health.v1.HealthCheckResponse.ServingStatus */
export const SERVING_STATUS = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;

/** gRPC status codes (grpc/doc/statuscodes.md) the two sides use. */
export const GRPC_STATUS = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

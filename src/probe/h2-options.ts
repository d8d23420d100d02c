/**
 * `--grpc-method` parsing, apart from the gRPC codec (src/wire/grpc.ts loads protobufjs, which
 * costs start-up time every HTTP/1.1 run would otherwise pay: the HTTP/2 engine is imported only
 * when a run speaks HTTP/2).
 */
import { UsageError } from '../core/errors.js';

/** The default method: grpc.health.v1.Health/Check (equal to src/wire/grpc.ts HEALTH_CHECK_PATH, checked by a test). */
export const DEFAULT_GRPC_METHOD = '/grpc.health.v1.Health/Check';

/** `--grpc-method`: `pkg.Service/Method` or `/pkg.Service/Method`. */
export function parseGrpcMethod(text: string | undefined): string {
  if (text === undefined) return DEFAULT_GRPC_METHOD;
  const t = text.trim();
  const path = t.startsWith('/') ? t : `/${t}`;
  if (!/^\/[A-Za-z_][\w.]*\/[A-Za-z_]\w*$/.test(path)) throw new UsageError(`invalid --grpc-method "${text}" (expected Service/Method with its package, e.g. grpc.health.v1.Health/Check or lbdiag.v1.WhoAmI/Get)`);
  return path;
}

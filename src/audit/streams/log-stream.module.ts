/**
 * SIEM log streams: configuration over GraphQL, and the delivery worker (start / stop).
 * Wiring only; the rules live in the files it assembles.
 */
import type { AuditModule, AuditModuleDeps } from "../audit-module";
import { backoffMs } from "../delivery/signed-webhook";
import { LogStreamDeliveryService, type LogStreamWorkerOptions } from "./log-stream-delivery.service";
import { LogStreamResolver } from "./log-stream.resolver";
import { LogStreamService } from "./log-stream.service";

/** GraphQL resolver classes of this module (built into the schema by src/server/schema.ts). */
export const LOG_STREAM_RESOLVERS: Function[] = [LogStreamResolver];

/**
 * Poll every second; retries after 1 s, 2 s, 4 s … 5 min (signed-webhook's backoffMs). Under
 * NODE_ENV=test the backoff is 20 times shorter (50 ms, 100 ms, …) so retry tests stay quick.
 */
export function logStreamWorkerOptions(env: AuditModuleDeps["env"]): LogStreamWorkerOptions {
  const scale = env === "test" ? 1 / 20 : 1;
  return {
    pollIntervalMs: 1000,
    backoffMs: (attempt) => backoffMs(attempt) * scale,
    leaseMs: 30_000,
    maxConcurrent: 8,
    maxBatchesPerClaim: 50,
  };
}

export function createLogStreamModule(deps: AuditModuleDeps, options: LogStreamWorkerOptions = logStreamWorkerOptions(deps.env)): AuditModule {
  const streams = new LogStreamService(deps.organizations, deps.secrets, deps.env);
  const worker = new LogStreamDeliveryService(deps.db, deps.audit, streams, deps.logger, options);
  return {
    resolvers: [[LogStreamResolver, new LogStreamResolver(deps.db, streams, worker)]],
    start: () => worker.start(),
    stop: () => worker.stop(),
  };
}

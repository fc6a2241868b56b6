/**
 * Signed webhook delivery, shared by alert notifications and the SIEM log stream.
 *
 * Rules:
 * - Body: JSON. Signature: HMAC-SHA256 over `<unix seconds>.<body>` with the endpoint's secret, sent
 *   as `X-RBAC-Signature: t=<unix seconds>,v1=<hex>`; receivers refuse stale timestamps (replay).
 * - `X-RBAC-Delivery: <id>` lets receivers deduplicate retried deliveries.
 * - https only; http only to loopback outside production. Redirects are not followed; the answer's
 *   body is never read beyond its status. 10 s timeout.
 * - A 2xx is an acknowledgement; anything else (or no answer) is retried with exponential backoff.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export interface WebhookEndpoint {
  url: string;
  secret: string;
}

export interface DeliveryOutcome {
  ok: boolean;
  status: number | null;
  error: string | null;
}

const TIMEOUT_MS = 10_000;

export function signatureHeader(secret: string, body: string, now = new Date()): string {
  const t = Math.floor(now.getTime() / 1000);
  const v1 = createHmac("sha256", secret).update(`${t}.${body}`).digest("hex");
  return `t=${t},v1=${v1}`;
}

/** For receivers (and tests): checks the signature and that the timestamp is recent. */
export function verifySignature(secret: string, header: string | undefined, body: string, toleranceSeconds = 300, now = new Date()): boolean {
  const parts = Object.fromEntries((header ?? "").split(",").map((p) => p.split("=") as [string, string]));
  const t = Number(parts.t);
  if (!Number.isFinite(t) || Math.abs(now.getTime() / 1000 - t) > toleranceSeconds || !parts.v1) return false;
  const expected = createHmac("sha256", secret).update(`${t}.${body}`).digest();
  const given = Buffer.from(parts.v1, "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function assertWebhookUrl(url: string, env: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "must be an absolute URL";
  }
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(parsed.hostname);
  if (parsed.protocol === "https:") return null;
  if (parsed.protocol === "http:" && loopback && env !== "production") return null;
  return "must use https (http only to localhost outside production)";
}

export async function deliver(endpoint: WebhookEndpoint, payload: unknown, deliveryId: string): Promise<DeliveryOutcome> {
  const body = JSON.stringify(payload);
  try {
    const response = await fetch(endpoint.url, {
      method: "POST",
      redirect: "manual",
      signal: AbortSignal.timeout(TIMEOUT_MS),
      headers: {
        "content-type": "application/json",
        "user-agent": "intercom-enterprise-rbac-webhook",
        "x-rbac-delivery": deliveryId,
        "x-rbac-signature": signatureHeader(endpoint.secret, body),
      },
      body,
    });
    await response.body?.cancel();
    return { ok: response.status >= 200 && response.status < 300, status: response.status, error: null };
  } catch (error) {
    return { ok: false, status: null, error: error instanceof Error ? error.name : "delivery failed" };
  }
}

/** 1 s, 2 s, 4 s … capped at 5 minutes, with ±20 % jitter. */
export function backoffMs(attempt: number): number {
  const base = Math.min(300_000, 1000 * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

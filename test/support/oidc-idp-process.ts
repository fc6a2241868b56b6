/**
 * Starts test/support/oidc-idp.mjs (oidc-provider + a forging IdP) in a child process and talks to
 * its admin API. oidc-provider is ESM with ESM dependencies, so it runs in its own Node process
 * instead of inside Jest's module loader.
 */
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { join } from "node:path";

export interface TestIdps {
  /** oidc-provider's issuer (real authorization codes and signed ID tokens). */
  real: string;
  /** The forging IdP's issuer (ID tokens oidc-provider will not produce). */
  forge: string;
  admin<T = any>(issuer: string, path: string, body?: unknown): Promise<T>;
  stats(issuer: string): Promise<{ jwks: number; token: number; userinfo: number; authorize: number; discovery: number }>;
  stop(): Promise<void>;
}

export async function startTestIdps(): Promise<TestIdps> {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [join(__dirname, "oidc-idp.mjs")], {
    env: { ...process.env, NODE_ENV: "test" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-4000);
  });
  const urls = await new Promise<{ real: string; forge: string }>((resolve, reject) => {
    let stdout = "";
    const timer = setTimeout(() => reject(new Error(`test IdP did not start in 20 s: ${stderr}`)), 20_000);
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
      const line = stdout.split("\n")[0];
      if (stdout.includes("\n")) {
        clearTimeout(timer);
        try {
          resolve(JSON.parse(line));
        } catch {
          reject(new Error(`unexpected test IdP output: ${line}`));
        }
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`test IdP exited with ${code}: ${stderr}`));
    });
  });

  const admin = async (issuer: string, path: string, body?: unknown) => {
    const response = await fetch(`${issuer}${path}`, body === undefined ? {} : { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const text = await response.text();
    if (!response.ok) throw new Error(`IdP admin ${path} answered ${response.status}: ${text}`);
    return JSON.parse(text);
  };

  return {
    ...urls,
    admin,
    stats: (issuer) => admin(issuer, "/__admin/stats"),
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

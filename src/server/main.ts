/** Entry point: `npm start` (after the build) runs this. */
import "reflect-metadata";
import { ConfigError, loadConfig } from "../config/config";
import { createApp, createLogger } from "./app";

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const logger = createLogger(config);
  const app = await createApp(config, logger);

  if (app.bootstrap.created && !app.bootstrap.fromEnvironment) {
    // Shown once, on the terminal only: it is never logged or stored in clear.
    process.stdout.write(
      `\n  Platform API key (shown once; store it now):\n\n    ${app.bootstrap.apiKey}\n\n  Use it as: Authorization: Bearer <key>\n\n`,
    );
  }
  if (app.bootstrap.created && app.bootstrap.fromEnvironment) logger.info("registered the platform key given in RBAC_BOOTSTRAP_API_KEY");

  const address = await app.fastify.listen({ port: config.port, host: config.host });
  const port = app.fastify.server.address();
  logger.info({ url: `${address}/graphql`, port: typeof port === "object" && port ? port.port : config.port }, "listening");

  const shutdown = (signal: string) => {
    logger.info({ signal }, "shutting down: draining requests");
    const timer = setTimeout(() => {
      logger.error("shutdown timed out; exiting");
      process.exit(1);
    }, config.shutdownTimeoutMs);
    timer.unref();
    app.close().then(
      () => {
        logger.info("stopped");
        process.exit(0);
      },
      (error) => {
        logger.error({ err: error }, "error during shutdown");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
}

main().catch((error) => {
  process.stderr.write(`fatal: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
  process.exit(1);
});

'use strict';
// Bare Apollo Server 5 on Fastify 5 with a trivial schema. It is the reference
// point for the service benchmarks: same HTTP stack, no auth, no database.
// Prints one JSON line {"listening": <port>} when ready; exits on SIGTERM.

const Fastify = require('fastify');
const { ApolloServer } = require('@apollo/server');
const { fastifyApolloHandler, fastifyApolloDrainPlugin } = require('@as-integrations/fastify');

const typeDefs = 'type Query { ok: Boolean! }';
const resolvers = { Query: { ok: () => true } };

async function main() {
  const app = Fastify({ logger: false });
  const apollo = new ApolloServer({
    typeDefs,
    resolvers,
    plugins: [fastifyApolloDrainPlugin(app)],
  });
  await apollo.start();
  app.route({ url: '/graphql', method: ['GET', 'POST', 'OPTIONS'], handler: fastifyApolloHandler(apollo) });

  await app.listen({ host: '127.0.0.1', port: Number(process.env.PORT || 0) });
  process.stdout.write(JSON.stringify({ listening: app.server.address().port }) + '\n');

  process.once('SIGTERM', () => {
    app.close().then(() => process.exit(0), () => process.exit(1));
  });
}

main().catch((err) => {
  process.stderr.write(String((err && err.stack) || err) + '\n');
  process.exit(1);
});

'use strict';
/**
 * node --expose-gc session-memory.cjs [batch] [rounds]
 *
 * Creates `rounds` batches of `batch` sessions with SslSession.fromDER(), drops them without
 * dispose() and collects after each batch; prints the RSS growth over all rounds as JSON.
 * If finalizers never freed the SSL_SESSIONs, the growth would be about `rounds` times what
 * one batch costs while held; that cost is measured first (`heldBatchBytes`) so the test can
 * check that its bound would catch such a leak.
 */
const { SslSession, serverContext, clientContext, connect, shutdown, gcUntil } = require('./gc-harness.cjs');

const batch = Number(process.argv[2] || 20000);
const rounds = Number(process.argv[3] || 5);

async function settle() {
  await gcUntil(() => false, 4);
}

(async () => {
  // A server-side TLS 1.2 session: no peer certificate, so d2i is fast (~10 µs).
  const { client, server } = connect(clientContext(), serverContext({ tls12: true, noTicket: true }));
  shutdown(client, server);
  const der = server.get1Session().toDER();
  client.free();
  server.free();
  await settle();

  // Cost of one batch while it is held (fresh memory: nothing freed yet to reuse).
  const beforeHeld = process.memoryUsage().rss;
  let held = [];
  for (let i = 0; i < batch; i++) held.push(SslSession.fromDER(der));
  await settle();
  const heldBatchBytes = process.memoryUsage().rss - beforeHeld;
  held = null;
  await settle();

  // Steady state: every batch is dropped, and its memory must be reused by the next one.
  const baseline = process.memoryUsage().rss;
  const started = Date.now();
  for (let r = 0; r < rounds; r++) {
    (() => {
      for (let i = 0; i < batch; i++) SslSession.fromDER(der);
    })();
    await settle();
  }
  const growthBytes = process.memoryUsage().rss - baseline;
  process.stdout.write(
    `${JSON.stringify({ batch, rounds, der: der.length, heldBatchBytes, growthBytes, ms: Date.now() - started, held: held === null })}\n`,
  );
})().catch((error) => {
  process.stderr.write(`${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});

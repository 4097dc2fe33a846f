// The yardstick for `npm run bench`: the least a relay can do on this stack. Fastify with its
// default JSON body parser, one route that forwards the body to the upstream with `undici.request`
// and pipes the answer back (streamed or not) — no auth, no billing, no logging, no metrics.
// Tollgate's figures are read as a ratio to this one, measured in the same run on the same cores,
// so they mean something on any machine.
//
//   node scripts/bench-bare-relay.mjs --upstream http://127.0.0.1:4010 [--port 0]
// prints one JSON line {"url": "..."} and runs until SIGTERM.
import Fastify from 'fastify';
import { Agent, request } from 'undici';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { upstream: { type: 'string' }, port: { type: 'string', default: '0' } } });
const upstream = values.upstream.replace(/\/$/, '');
const dispatcher = new Agent({ connections: 512, pipelining: 1 });
const app = Fastify({ logger: false });

app.post('/v1/chat/completions', async (req, reply) => {
  const res = await request(`${upstream}/chat/completions`, {
    method: 'POST',
    dispatcher,
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench-upstream' },
    body: JSON.stringify(req.body),
  });
  reply.code(res.statusCode).header('content-type', res.headers['content-type'] ?? 'application/json');
  return reply.send(res.body);
});

const address = await app.listen({ host: '127.0.0.1', port: Number(values.port) });
process.stdout.write(JSON.stringify({ url: address }) + '\n');
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => app.close().then(() => process.exit(0)));

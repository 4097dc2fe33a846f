// A throwaway Tollgate with a fake upstream, for working on the web console by hand:
//   node bin/run-ts.mjs test/browser/dev-server.ts [--seed]
// prints the URL and the sign-in; with --seed it also adds a channel, a price, a user with $10
// and a few calls so the pages have something to show. Ctrl-C stops it and drops the database.
import OpenAI from 'openai';
import { ApiClient } from '../support/api.js';
import { startFakeUpstream } from '../support/fake-upstream.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startTestServer } from '../support/server.js';

const upstream = await startFakeUpstream();
const server = await startTestServer({ env: { PORT: process.env.PORT ?? '0' } });

if (process.argv.includes('--seed')) {
  const admin = new ApiClient(server.url);
  await admin.signIn();
  await admin.post('/api/admin/channels', { name: 'fake-openai', base_url: upstream.url, key: 'sk-upstream-dev', models: ['gpt-4o-mini', 'gpt-4o'] });
  await admin.put('/api/admin/prices/gpt-4o-mini', { input: '0.15', output: '0.6' });
  await admin.put('/api/admin/prices/gpt-4o', { input: '2.5', output: '10' });
  const u = await admin.post('/api/admin/users', { email: 'alice@example.com', password: 'wonderland-pass-1', name: 'Alice' });
  await admin.post(`/api/admin/users/${u.body.id}/balance-adjustments`, { amount: '10', reason: 'welcome', idempotency_key: 'dev-seed' });
  const user = new ApiClient(server.url);
  await user.signIn('alice@example.com', 'wonderland-pass-1');
  const k = await user.post('/api/console/keys', { name: 'laptop' });
  await server.ctx.feed.pollNow();
  const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: k.body.key });
  for (let i = 0; i < 5; i++) await client.chat.completions.create({ model: i % 2 ? 'gpt-4o' : 'gpt-4o-mini', messages: [{ role: 'user', content: `hello ${i}` }] });
  console.log('seeded: alice@example.com / wonderland-pass-1');
}

console.log(JSON.stringify({ url: server.url, upstream: upstream.url, admin: ADMIN_EMAIL, password: ADMIN_PASSWORD }));

const stop = async () => {
  await server.stop();
  await upstream.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());

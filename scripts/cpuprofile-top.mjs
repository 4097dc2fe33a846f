// Self time by function from a V8 .cpuprofile (node --cpu-prof), as a markdown table.
//   node scripts/cpuprofile-top.mjs <file.cpuprofile> [rows=40]
// Also sums self time by package (node_modules/<name>) and by our own source folders, which is
// usually the quicker read: which layer of the stack the time goes to.
import { readFileSync } from 'node:fs';

const [file, rowsArg] = process.argv.slice(2);
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = prof.timeDeltas;
for (let i = 0; i < prof.samples.length; i++) self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + (dt[i] ?? 0));
const total = [...self.values()].reduce((a, b) => a + b, 0);

const fn = new Map();
const pkg = new Map();
for (const [id, us] of self) {
  const { callFrame: f } = byId.get(id);
  const url = f.url.replace(/^file:\/\//, '');
  const short = url.replace(/.*node_modules\//, '').replace(/.*\/(server|dist|scripts)\//, '$1/');
  const key = `${f.functionName || '(anonymous)'} ${short ? `${short}:${f.lineNumber + 1}` : ''}`.trim();
  fn.set(key, (fn.get(key) ?? 0) + us);
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  const layer = m ? m[1] : url.startsWith('node:') ? 'node: (built-in JS)' : url ? short.split('/').slice(0, 3).join('/') : f.functionName;
  pkg.set(layer, (pkg.get(layer) ?? 0) + us);
}
const pct = (us) => ((100 * us) / total).toFixed(1);
const table = (title, m, n) => {
  console.log(`\n| ${title} | self ms | % |\n|---|---:|---:|`);
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`| \`${k.replace(/\|/g, '\\|')}\` | ${(us / 1000).toFixed(0)} | ${pct(us)} |`);
};
console.log(`Profile ${file}: ${(total / 1e6).toFixed(1)} s sampled.`);
table('layer', pkg, 25);
table('function', fn, Number(rowsArg ?? 40));

import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

/**
 * Writes `x.js.br` and `x.js.gz` beside every text asset of the build, once, at build time; the
 * server sends them to browsers that accept them (@fastify/static `preCompressed`), so nothing is
 * compressed per request and the big chunks cross the network at a third of their size or less.
 */
function precompress(): Plugin {
  let outDir = 'dist';
  return {
    name: 'tollgate-precompress',
    apply: 'build',
    configResolved(c) {
      outDir = c.build.outDir;
    },
    closeBundle() {
      const walk = (dir: string): string[] => readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));
      for (const file of walk(outDir)) {
        if (!/\.(js|css|html|svg|json)$/.test(file)) continue;
        const body = readFileSync(file);
        if (body.length < 1024) continue;
        writeFileSync(`${file}.br`, brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
        writeFileSync(`${file}.gz`, gzipSync(body, { level: 9 }));
      }
    },
  };
}

// `npm run dev -w web` serves the SPA from the sources (an edit shows at once) and sends the API and
// the gateway to a running Tollgate (TOLLGATE_URL, default http://127.0.0.1:3000), so cookies stay
// same-origin. See docs/DEVELOPERS.md.
const backend = process.env.TOLLGATE_URL ?? 'http://127.0.0.1:3000';

export default defineConfig(() => {
  return {
    base: '/',
    plugins: [react(), precompress()],
    server: {
      proxy: {
        '/api': { target: backend, changeOrigin: false },
        '/v1': { target: backend, changeOrigin: false },
      },
    },
    build: {
      outDir: 'dist',
      emptyOutDir: true,
      chunkSizeWarningLimit: 1200,
      // Sizes per chunk, gzipped, in the build's output (the figures in web/README.md).
      reportCompressedSize: true,
      rollupOptions: {
        output: {
          // Libraries that change rarely get their own long-lived chunks; ECharts stays out of the
          // first page because only the lazily loaded chart component imports it.
          manualChunks(id) {
            if (!id.includes('node_modules')) return undefined;
            if (/[\\/]node_modules[\\/](echarts|zrender|tslib)[\\/]/.test(id)) return 'echarts';
            if (/[\\/]node_modules[\\/](react|react-dom|scheduler|react-router|@tanstack|i18next|react-i18next)[\\/]/.test(id)) return 'framework';
            return undefined;
          },
        },
      },
    },
  };
});

import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev -w web` serves the SPA with hot reload and sends the API and the gateway to a running
// Tollgate (TOLLGATE_URL, default http://127.0.0.1:3000), so cookies stay same-origin.
const backend = process.env.TOLLGATE_URL ?? 'http://127.0.0.1:3000';

export default defineConfig({
  base: '/',
  plugins: [react()],
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
    // The reports in README.md come from this: sizes per chunk, gzipped.
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
});

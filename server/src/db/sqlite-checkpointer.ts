import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';

/**
 * SQLite in WAL mode copies the log back into the database file ("checkpoint"). Left to itself it
 * does that inside whichever commit crosses the threshold — on our event loop, stalling every call
 * in flight for tens of milliseconds. Instead the main connection never checkpoints, and a worker
 * thread with its own connection runs PASSIVE checkpoints (which never block writers) every
 * `everyMs`, so the hot path only ever appends to the log.
 */
export function startCheckpointer(file: string, everyMs = 1000): { stop(): Promise<void> } {
  const require = createRequire(import.meta.url);
  const modulePath = require.resolve('better-sqlite3');
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const Database = require(workerData.modulePath);
    const db = new Database(workerData.file);
    db.pragma('busy_timeout = 5000');
    let stopping = false;
    const tick = () => {
      if (stopping) return;
      try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {}
      setTimeout(tick, workerData.everyMs);
    };
    setTimeout(tick, workerData.everyMs);
    parentPort.on('message', (m) => {
      if (m !== 'stop') return;
      stopping = true;
      try { db.pragma('wal_checkpoint(PASSIVE)'); } catch {}
      db.close();
      parentPort.postMessage('stopped');
    });
  `;
  const worker = new Worker(code, { eval: true, workerData: { file, everyMs, modulePath } });
  worker.unref();
  return {
    async stop() {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 2000);
        worker.once('message', () => {
          clearTimeout(t);
          resolve();
        });
        worker.once('exit', () => {
          clearTimeout(t);
          resolve();
        });
        worker.postMessage('stop');
      });
      await worker.terminate();
    },
  };
}

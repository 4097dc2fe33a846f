import { affected, isUniqueViolation, type Db } from '../db/index.js';
import type { Logger } from '../log.js';
import type { Metrics } from './metrics.js';

/**
 * Take (or keep) a named lease so that a scheduled job runs in one process at a time when several
 * share the database. A holder that dies simply lets the lease run out.
 */
export async function acquireLease(db: Db, name: string, holder: string, ttlMs: number, now = Date.now()): Promise<boolean> {
  const r = await db.kysely
    .updateTable('job_leases')
    .set({ holder, expires_at: now + ttlMs })
    .where('name', '=', name)
    .where((eb) => eb.or([eb('holder', '=', holder), eb('expires_at', '<', now)]))
    .executeTakeFirst();
  if (affected(r) === 1) return true;
  try {
    await db.kysely.insertInto('job_leases').values({ name, holder, expires_at: now + ttlMs }).execute();
    return true;
  } catch (err) {
    if (isUniqueViolation(err)) return false;
    throw err;
  }
}

interface Job {
  name: string;
  everyMs: number;
  /** Only one process at a time runs it (a lease), or every process does. */
  exclusive: boolean;
  run: () => Promise<unknown>;
}

/** A small in-process scheduler: each job runs on its interval, never overlapping itself. */
export class Jobs {
  readonly #jobs: Job[] = [];
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #running = new Set<Promise<unknown>>();
  readonly #holder = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  #stopped = false;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    private readonly metrics?: Metrics,
  ) {}

  add(job: Job): this {
    this.#jobs.push(job);
    return this;
  }

  start(): void {
    for (const job of this.#jobs) {
      let busy = false;
      const tick = async () => {
        if (busy || this.#stopped) return;
        busy = true;
        const p = (async () => {
          const t0 = performance.now();
          try {
            if (job.exclusive && !(await acquireLease(this.db, job.name, this.#holder, job.everyMs * 2))) return;
            await job.run();
            this.metrics?.jobRuns.inc({ job: job.name, outcome: 'ok' });
          } catch (err) {
            this.metrics?.jobRuns.inc({ job: job.name, outcome: 'failed' });
            this.log.error({ err, job: job.name }, 'job failed');
          }
          this.metrics?.jobSeconds.observe({ job: job.name }, (performance.now() - t0) / 1000);
        })();
        this.#running.add(p);
        await p;
        this.#running.delete(p);
        busy = false;
      };
      const t = setInterval(() => void tick(), job.everyMs);
      t.unref();
      this.#timers.push(t);
    }
  }

  /** Stop scheduling and wait for runs in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t);
    await Promise.allSettled([...this.#running]);
  }
}

import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** One JSON logger for the process; request loggers are children carrying the request id. */
export function createLogger(level: string, name = 'tollgate', destination?: DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    name,
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'headers.authorization', '*.apiKey', '*.key', 'password'],
      censor: '[redacted]',
    },
  };
  // Asynchronous stdout: pino's default writes every line with a synchronous write(2), and when
  // stdout is a pipe whose reader lags it spins in atomic-sleep — on the gateway's hot path that was
  // a fifth of the server's busy CPU time under load (docs/perf/). Async, lines written while one
  // write is in flight go out together in the next; nothing waits for a buffer to fill, so a quiet
  // server's lines still appear at once, and pino flushes what is pending when the process exits.
  // If stdout stops being read, lines beyond 64 MiB pending are dropped rather than exhaust memory.
  return pino(options, destination ?? pino.destination({ dest: 1, sync: false, minLength: 0, maxLength: 64 * 1024 * 1024 }));
}

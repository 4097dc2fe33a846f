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
  return destination ? pino(options, destination) : pino(options);
}

import { AppError } from '../errors.js';

/**
 * How deep objects and arrays may nest in a request body. Real requests (chat messages with
 * content parts, tool JSON schemas) stay far below this; a 20,000-level array parses fine but
 * then overflows the stack of whatever walks it (the token counter, JSON.stringify), which used
 * to surface as a 500.
 */
export const MAX_JSON_DEPTH = 128;

/** True when the JSON text opens more than `limit` objects/arrays inside each other. One pass, no allocation. */
export function jsonNestedDeeperThan(text: string, limit = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 /* [ */ || c === 123 /* { */) {
      if (++depth > limit) return true;
    } else if (c === 93 /* ] */ || c === 125 /* } */) depth--;
  }
  return false;
}

export function tooDeepError(): AppError {
  return new AppError('invalid_json', `The JSON body nests objects or arrays more than ${MAX_JSON_DEPTH} levels deep.`);
}

/** JSON.parse for request bodies: refuses over-deep nesting before parsing (400, not a stack overflow later). */
export function parseJsonBody(text: string): unknown {
  if (jsonNestedDeeperThan(text)) throw tooDeepError();
  try {
    return JSON.parse(text);
  } catch {
    throw new AppError('invalid_json', 'We could not parse the JSON body of your request. Send a valid JSON object.');
  }
}

// Auto-disabling a channel switches it off for every caller, so it may follow only what the
// upstream says about the channel's key or account (status, structured codes), never text a
// caller can put into an error message.
import { describe, expect, it } from 'vitest';
import { anthropicProvider } from './anthropic.js';
import { openaiProvider } from './openai.js';

const openai = (status: number, error: Record<string, unknown>) => openaiProvider.classifyFailure(status, JSON.stringify({ error })).kind;
const anthropic = (status: number, error: Record<string, unknown>) => anthropicProvider.classifyFailure(status, JSON.stringify({ type: 'error', error })).kind;

describe('classifyFailure', () => {
  it('OpenAI: status and structured codes decide, not the words of a 400', () => {
    for (const name of ['incorrect api key', 'invalid_api_key', 'insufficient_quota', 'exceeded your current quota', 'account_deactivated'])
      expect(openai(400, { message: `Unrecognized request argument supplied: ${name}`, type: 'invalid_request_error', code: null })).toBe('client');
    expect(openai(401, { message: 'Incorrect API key provided', code: 'invalid_api_key' })).toBe('auth');
    expect(openai(429, { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota' })).toBe('quota');
    expect(openai(429, { message: 'You exceeded your current quota of requests', code: 'rate_limit_exceeded' })).toBe('rate_limit');
    expect(openai(403, { message: 'x', code: 'account_deactivated' })).toBe('auth');
    expect(openai(402, { message: 'pay up' })).toBe('quota');
  });

  it('Anthropic: an echoed field name is not a billing failure; the real sentence and billing_error are', () => {
    for (const name of ['billing', 'payment', 'credit balance is too low'])
      expect(anthropic(400, { type: 'invalid_request_error', message: `${name}: Extra inputs are not permitted` })).toBe('client');
    const real = 'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.';
    expect(anthropic(400, { type: 'invalid_request_error', message: real })).toBe('quota');
    expect(anthropic(400, { type: 'invalid_request_error', message: `${real}: Extra inputs are not permitted` })).toBe('client');
    expect(anthropic(403, { type: 'billing_error', message: 'x' })).toBe('quota');
    expect(anthropic(401, { type: 'authentication_error', message: 'invalid x-api-key' })).toBe('auth');
  });
});

#!/usr/bin/env node
// The `tollgate` command. Loads the TypeScript sources through tsx, so `npx tollgate …` works
// straight after `npm install` without a build step.
import { register } from 'tsx/esm/api';

register();
await import('../server/src/cli/main.ts');

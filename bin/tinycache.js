#!/usr/bin/env node
// The `tinycache` command. The sources are TypeScript; tsx compiles them as they load.
import { register } from 'tsx/esm/api';

register();
await import('../server/cli.ts');

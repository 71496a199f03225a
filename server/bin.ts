/** The `tinycache` command's entry file, for spawning nodes and commands as child processes. */
import { fileURLToPath } from 'node:url';

export const TINYCACHE_BIN = fileURLToPath(new URL('../bin/tinycache.js', import.meta.url));

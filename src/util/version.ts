import { readFileSync } from 'node:fs';

/** backy's version, from package.json (the CLI's `--version`, the telnet prompt, the status file). */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

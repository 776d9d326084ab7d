/**
 * `npm run bench [-- --peers] [-- --only image,scheduler,ceph,peers]`: runs
 * the benchmark scenarios one after another (never in parallel: they share
 * two cores) and writes one markdown report to bench/results/latest.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

const DEFAULT_SCENARIOS = ['image', 'scale', 'scheduler', 'ceph', 'check'];

interface Scenario {
  run(): Promise<string>;
}

function selectedScenarios(argv: string[]): string[] {
  const only = argv.indexOf('--only');
  if (only >= 0) return (argv[only + 1] ?? '').split(',').filter(Boolean);
  return argv.includes('--peers') ? [...DEFAULT_SCENARIOS, 'peers'] : DEFAULT_SCENARIOS;
}

const names = selectedScenarios(process.argv.slice(2));
/** The command that made this report, settings from the environment included. */
const command = [
  ...['BENCH_REPS', 'BENCH_SIZE_GIB'].filter((name) => process.env[name]).map((name) => `${name}=${process.env[name]}`),
  'npm run bench',
  ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : []),
].join(' ');
const sections: string[] = [
  '# backy benchmark',
  '',
  `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, Node ${process.version}, ${cpus().length} cores, ` +
    `${Math.round(totalmem() / 1024 ** 3)} GiB RAM. Regenerate with \`${command}\`.`,
];
let failed = false;
for (const name of names) {
  console.error(`bench: running ${name} …`);
  try {
    const scenario = (await import(new URL(`./scenarios/${name}.js`, import.meta.url).href)) as Scenario;
    sections.push('', await scenario.run());
  } catch (err) {
    failed = true;
    sections.push('', `## ${name}`, '', `failed: ${(err as Error).message}`);
  }
}
const report = `${sections.join('\n')}\n`;
const resultsDir = fileURLToPath(new URL('../../bench/results/', import.meta.url));
mkdirSync(resultsDir, { recursive: true });
const file = names.length === 1 ? `${names[0]}.md` : 'latest.md';
writeFileSync(`${resultsDir}${file}`, report);
console.log(report);
console.error(`bench: report written to bench/results/${file}`);
process.exitCode = failed ? 1 : 0;

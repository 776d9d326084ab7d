/** `--json` or `--yaml`: data for scripts, in either notation. */
export type DataFormat = 'json' | 'yaml';

/** The format a command's `--json`/`--yaml` flags ask for; both at once is a usage mistake. */
export function dataFormat(options: { json?: boolean; yaml?: boolean }): DataFormat | null {
  if (options.json && options.yaml) return 'json';
  return options.json ? 'json' : options.yaml ? 'yaml' : null;
}

/** The `yaml` library is loaded only for `--yaml`: every command's start-up would pay for it. */
export async function renderData(data: unknown, format: DataFormat): Promise<string> {
  if (format === 'json') return `${JSON.stringify(data, null, 2)}\n`;
  const { default: YAML } = await import('yaml');
  return YAML.stringify(data);
}

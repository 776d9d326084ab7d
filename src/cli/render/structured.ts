import YAML from 'yaml';

/** `--json` or `--yaml`: data for scripts, in either notation. */
export type DataFormat = 'json' | 'yaml';

/** The format a command's `--json`/`--yaml` flags ask for; both at once is a usage mistake. */
export function dataFormat(options: { json?: boolean; yaml?: boolean }): DataFormat | null {
  if (options.json && options.yaml) return 'json';
  return options.json ? 'json' : options.yaml ? 'yaml' : null;
}

export function renderData(data: unknown, format: DataFormat): string {
  return format === 'json' ? `${JSON.stringify(data, null, 2)}\n` : YAML.stringify(data);
}

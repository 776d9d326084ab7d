/** Markdown tables for benchmark reports. */
export interface Row {
  figure: string;
  value: string;
  baseline?: string;
  ratio?: string;
  target?: string;
  pass?: boolean;
}

export function markdownTable(rows: Row[]): string {
  const head = '| figure | value | baseline | ratio | target | ok |\n|---|---:|---:|---:|---|---|';
  const body = rows.map((r) =>
    `| ${r.figure} | ${r.value} | ${r.baseline ?? ''} | ${r.ratio ?? ''} | ${r.target ?? ''} | ${r.pass === undefined ? '' : r.pass ? 'yes' : '**NO**'} |`,
  );
  return [head, ...body].join('\n');
}

export function seconds(value: number): string {
  return `${value.toFixed(2)} s`;
}

export function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function ratio(value: number, baseline: number): string {
  return `${(value / baseline).toFixed(2)} x`;
}

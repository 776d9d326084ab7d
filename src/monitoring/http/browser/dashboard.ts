/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The dashboard's only script, run in the browser: filters the jobs table
 * as the user types (and keeps the filter in the address for the page's
 * own reloads), and draws the job page's plots with uPlot (served by the
 * scheduler as well). Without it the pages still work.
 */
import type uPlotType from 'uplot';
import { byteLabels, secondLabels } from './axis-labels.js';

declare const uPlot: typeof uPlotType;

const filter = document.querySelector<HTMLInputElement>('#filter');
if (filter) {
  const apply = () => {
    const text = filter.value.toLowerCase();
    for (const row of document.querySelectorAll<HTMLTableRowElement>('#jobs tbody tr')) {
      row.hidden = !(row.dataset.job ?? '').toLowerCase().includes(text);
    }
    const url = new URL(window.location.href);
    if (text) url.searchParams.set('filter', filter.value);
    else url.searchParams.delete('filter');
    window.history.replaceState(null, '', url);
  };
  filter.addEventListener('input', apply);
}

const data = document.querySelector('#series');
if (data?.textContent) {
  const series = JSON.parse(data.textContent) as { time: number[]; duration: Array<number | null>; written: Array<number | null> };
  for (const chart of document.querySelectorAll<HTMLElement>('.chart')) {
    const key = chart.dataset.series as 'duration' | 'written';
    const title = chart.dataset.title ?? key;
    new uPlot(
      {
        title,
        width: 520,
        height: 240,
        series: [{}, { label: title, stroke: key === 'duration' ? '#0050a0' : '#0a7d29', width: 2, points: { show: true, size: 6 } }],
        axes: [{}, { size: 70, values: (_u: unknown, ticks: number[]) => (key === 'written' ? byteLabels(ticks) : secondLabels(ticks)) }],
      },
      [series.time, series[key]],
      chart,
    );
  }
}

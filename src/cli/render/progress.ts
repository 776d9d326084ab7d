import type { ProgressListener, ProgressPhase } from '../../sources/source.js';
import { formatBytes } from '../../util/units.js';

/**
 * A one-line progress display on stderr, only when stderr is a terminal, so
 * logs, pipes and the scheduler's captured output never see it.
 */
export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): { listener: ProgressListener; done(): void } {
  if (!stream.isTTY) return { listener: () => undefined, done: () => undefined };
  let lastDraw = 0;
  let phaseStart = Date.now();
  let currentPhase: ProgressPhase | null = null;
  let drawn = false;
  const listener: ProgressListener = (phase, done, total) => {
    const now = Date.now();
    if (phase !== currentPhase) {
      currentPhase = phase;
      phaseStart = now;
    } else if (now - lastDraw < 200 && done < total) {
      return;
    }
    lastDraw = now;
    const percent = total > 0 ? Math.floor((done / total) * 100) : 100;
    const seconds = Math.max(0.001, (now - phaseStart) / 1000);
    const line = `${phase.padEnd(7)} ${String(percent).padStart(3)}%  ${formatBytes(done)} of ${formatBytes(total)}  ${formatBytes(Math.round(done / seconds))}/s`;
    stream.write(`\r${line.padEnd(70)}`);
    drawn = true;
  };
  return {
    listener,
    done: () => {
      if (drawn) stream.write(`\r${' '.repeat(70)}\r`);
    },
  };
}

import type { RunProgress } from '../engine/run-job.ts';
import { formatNumber } from './output.ts';

/** The live progress line on a terminal: units, rows, rows/s and the current stage, redrawn in place. */
export function createProgressLine(stream: NodeJS.WriteStream): {
  update(p: RunProgress): void;
  stop(): void;
} {
  const started = performance.now();
  let last: RunProgress | undefined;
  const draw = () => {
    if (!last) return;
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0 ? Math.round(last.rows / seconds) : 0;
    stream.write(
      `\r\x1b[K${last.stage} · units ${last.unitsDone}/${last.unitsTotal} · rows ${formatNumber(last.rows)} · ${formatNumber(rate)} rows/s · ${seconds.toFixed(1)}s`,
    );
  };
  const timer = setInterval(draw, 250);
  timer.unref();
  return {
    update(progress) {
      last = progress;
    },
    stop() {
      clearInterval(timer);
      draw();
      stream.write('\n');
    },
  };
}

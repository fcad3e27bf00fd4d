/**
 * Crash points for the crash-safety tests: when INLET_FAILPOINT names this point
 * (`name` or `name@N` for its N-th pass), the process kills itself with SIGKILL,
 * exactly as a power cut or `kill -9` would, at a precisely chosen moment.
 */
const hits = new Map<string, number>();

export function failpoint(name: string): void {
  const wanted = process.env.INLET_FAILPOINT;
  if (!wanted) return;
  const [point, nth] = wanted.split('@');
  if (point !== name) return;
  const count = (hits.get(name) ?? 0) + 1;
  hits.set(name, count);
  if (count >= Number(nth ?? 1)) process.kill(process.pid, 'SIGKILL');
}

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const RESULTS = join(import.meta.dirname, 'RESULTS.md');

const INTRO = `# Benchmark results

Each benchmark rewrites only its own section (between its markers); rerun the command in a
section to refresh it (see README.md). Absolute times on shared machines are noise: the ratios
are the result.
`;

/** Replaces one benchmark's section of bench/RESULTS.md (between its markers), or appends it. */
export async function writeResultsSection(name: string, section: string): Promise<string> {
  const begin = `<!-- bench:${name}:begin -->`;
  const end = `<!-- bench:${name}:end -->`;
  const current = await readFile(RESULTS, 'utf8').catch(() => INTRO);
  const block = `${begin}\n${section.trim()}\n${end}`;
  const from = current.indexOf(begin);
  const to = current.indexOf(end);
  const text =
    from >= 0 && to > from
      ? current.slice(0, from) + block + current.slice(to + end.length)
      : `${current.trimEnd()}\n\n${block}\n`;
  await writeFile(RESULTS, text);
  return RESULTS;
}

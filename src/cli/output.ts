/** Everything a command prints goes through here, so tests can capture it. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
  /** True when stderr is a terminal (live progress is shown only then). */
  interactive: boolean;
}

export const processOutput: Output = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  interactive: Boolean(process.stderr.isTTY),
};

export const formatNumber = (n: number) => n.toLocaleString('en-US');

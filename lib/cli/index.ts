#!/usr/bin/env node
/**
 * openssl-session CLI. Each command lives in its own module exporting
 * `run(argv: string[]): Promise<number>` (the exit code).
 */
const commands: Record<string, { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> }> = {
  demo: { summary: 'reproduce the classic client session-reuse example (NEW, then REUSED x4)', load: () => import('./demo.js') },
  probe: { summary: 'connect N times to host:port through the session cache and report resumption', load: () => import('./probe.js') },
  matrix: { summary: 'the cache-mode lab: every server x client cache mode, in memory', load: () => import('./matrix.js') },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`);
  return `usage: openssl-session <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun "openssl-session <command> --help" for a command's options.`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    console.log(usage());
    return name === undefined ? 1 : 0;
  }
  const command = commands[name];
  if (!command) {
    console.error(`unknown command "${name}"\n\n${usage()}`);
    return 1;
  }
  return (await command.load()).run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? `error: ${error.message}` : error);
    process.exitCode = 1;
  },
);

/** Placeholder until the cache-mode lab lands (issue: cache modes and session callbacks). */
export async function run(_argv: string[]): Promise<number> {
  console.error('matrix: not implemented yet');
  return 1;
}

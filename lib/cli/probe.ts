/** Placeholder until the client session cache lands. */
export async function run(_argv: string[]): Promise<number> {
  console.error('probe: not implemented yet');
  return 1;
}

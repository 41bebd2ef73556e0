/** Placeholder during the walking skeleton; replaced in this change. */
export async function main(_argv: string[]): Promise<number> {
  process.stderr.write('not built yet\n')
  return 1
}

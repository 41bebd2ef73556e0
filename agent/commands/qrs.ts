/** `bedside-hub qrs RECORD`: placeholder until agent/signal lands (issue 5). */
export async function main(_argv: string[]): Promise<number> {
  process.stderr.write('qrs: not built yet\n')
  return 1
}

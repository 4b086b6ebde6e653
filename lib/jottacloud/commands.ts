// `jottadav login | devices | about | cleanup`: account commands.
export async function runAccountCommand(name: string, _args: string[]): Promise<void> {
  throw new Error(`'${name}' is not built yet`);
}

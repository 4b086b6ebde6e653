// `jottadav serve`: the WebDAV server.
export async function runServeCommand(_opts: Record<string, unknown>): Promise<void> {
  throw new Error('the WebDAV server is not built yet');
}

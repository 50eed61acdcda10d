/**
 * Reading files piece by piece, for the parsers that check a header before reading what it
 * declares (IDX, safetensors) and for followers of a growing log: an open that names the file in
 * its error, and a read that fills a buffer.
 */

/** Opens `path` for reading; a missing or unreadable file is an Error naming it. */
export async function openForReading(path: string): Promise<Deno.FsFile> {
  try {
    return await Deno.open(path, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new Error(`${path}: file not found`);
    // The cause stays, so a CLI can tell a missing permission (and say how to grant it).
    throw new Error(`${path}: cannot read: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Fills `into` from the file's position; returns the bytes read, fewer than its length only where
 * the file ended.
 */
export async function readInto(f: Deno.FsFile, into: Uint8Array): Promise<number> {
  let got = 0;
  while (got < into.length) {
    const n = await f.read(into.subarray(got));
    if (n === null) break;
    got += n;
  }
  return got;
}

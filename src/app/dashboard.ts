/**
 * `deno task train --dashboard [PORT]`: a page on http://localhost:PORT/ that follows the run as it
 * goes — loss, error, learning rate, images/s and per-layer gradient norms — read from the run
 * directory's own `metrics.jsonl` and `config.json`, the same records a finished run leaves
 * behind, so the page never shows a number the log does not hold. The page polls for the lines
 * appended since its last read. Binds to the loopback interface only.
 */
import { DASHBOARD_HTML } from "./dashboard_page.ts";
import { readInto } from "../io/file_read.ts";

/** A running dashboard server. */
export interface Dashboard {
  /** The port it listens on (the one asked for, or the one picked for port 0). */
  port: number;
  /** http://localhost:PORT/ */
  url: string;
  /** Stops the server. */
  close(): Promise<void>;
}

/** Thrown when the dashboard's port is taken; the message names it and a free one. */
export class PortInUseError extends Error {
  constructor(readonly port: number, readonly suggestion: number | null) {
    super(
      `port ${port} is in use (another dashboard or server?)` +
        (suggestion ? `; try --dashboard ${suggestion}` : "; try another --dashboard PORT") +
        " (--dashboard 0 picks any free port)",
    );
    this.name = "PortInUseError";
  }
}

/** The first port after `port` (up to 50 tried) that is free on 127.0.0.1, or null. */
export function freePortAfter(port: number): number | null {
  for (let p = port + 1; p <= Math.min(port + 50, 65535); p++) {
    try {
      Deno.listen({ hostname: "127.0.0.1", port: p }).close();
      return p;
    } catch (e) {
      if (!(e instanceof Deno.errors.AddrInUse)) throw e;
    }
  }
  return null;
}

/** Bytes of `path` from `offset` on (empty when it does not exist yet). */
async function readFrom(path: string, offset: number): Promise<Uint8Array<ArrayBuffer>> {
  let f: Deno.FsFile;
  try {
    f = await Deno.open(path, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return new Uint8Array(0);
    throw e;
  }
  try {
    const size = (await f.stat()).size;
    if (offset >= size) return new Uint8Array(0);
    await f.seek(offset, Deno.SeekMode.Start);
    const buf = new Uint8Array(size - offset);
    const n = await readInto(f, buf);
    // Only whole lines: a record being written is picked up on the next poll.
    const end = buf.subarray(0, n).lastIndexOf(10) + 1;
    return buf.subarray(0, end);
  } finally {
    f.close();
  }
}

/**
 * Serves the dashboard of the run writing to `dir` on 127.0.0.1:`port`.
 *
 * @throws {PortInUseError} the port is taken (the message suggests a free one).
 */
export function startDashboard(dir: string, port: number): Dashboard {
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, async (req) => {
      const url = new URL(req.url);
      const headers = { "cache-control": "no-store" };
      if (url.pathname === "/") {
        return new Response(DASHBOARD_HTML, {
          headers: { ...headers, "content-type": "text/html; charset=utf-8" },
        });
      }
      if (url.pathname === "/metrics.jsonl") {
        const from = Number(url.searchParams.get("from") ?? 0);
        if (!Number.isSafeInteger(from) || from < 0) {
          return new Response("from must be a byte offset", { status: 400 });
        }
        const body = await readFrom(`${dir}/metrics.jsonl`, from);
        return new Response(body, {
          headers: { ...headers, "content-type": "application/x-ndjson" },
        });
      }
      if (url.pathname === "/config.json") {
        const body = await readFrom(`${dir}/config.json`, 0);
        return new Response(body.length ? body : "null", {
          headers: { ...headers, "content-type": "application/json" },
        });
      }
      return new Response("not found", { status: 404 });
    });
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) throw new PortInUseError(port, freePortAfter(port));
    throw e;
  }
  const actual = server.addr.port;
  return {
    port: actual,
    url: `http://localhost:${actual}/`,
    close: () => server.shutdown(),
  };
}

/**
 * `deno task serve [PORT]`: serves the browser page (web/) and the bundle (dist/) on
 * http://localhost:PORT/ (default 8000). Browsers load module scripts over http(s) only, so the
 * page cannot work opened as a file. Binds to the loopback interface only.
 */
import { extname, join, normalize } from "node:path";
import { freePortAfter } from "../src/app/dashboard.ts";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".ts": "text/plain; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

/**
 * A handler serving `web/` at `/web/` and `dist/` at `/dist/` from `root` (`/` redirects to the
 * page). Paths escaping those folders are refused.
 */
export function staticHandler(root: string): (req: Request) => Promise<Response> {
  return async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    if (path === "/" || path === "/web") return Response.redirect(new URL("/web/", req.url), 302);
    const rel = normalize(path.endsWith("/") ? `${path}index.html` : path).replace(/^\/+/, "");
    if (!/^(web|dist)\//.test(rel) || rel.includes("..")) {
      return new Response("not found", { status: 404 });
    }
    try {
      const body = await Deno.readFile(join(root, rel));
      return new Response(body, {
        headers: {
          "content-type": TYPES[extname(rel)] ?? "application/octet-stream",
          "cache-control": "no-store",
        },
      });
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return new Response("not found", { status: 404 });
      throw e;
    }
  };
}

if (import.meta.main) {
  const root = new URL("../", import.meta.url).pathname;
  const port = Number(Deno.args[0] ?? 8000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`error: port must be an integer 0…65535, got "${Deno.args[0]}"`);
    Deno.exit(2);
  }
  try {
    Deno.serve({
      hostname: "127.0.0.1",
      port,
      onListen: (a) => console.log(`resgpu page: http://localhost:${a.port}/web/ (Ctrl-C stops)`),
    }, staticHandler(root));
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      const free = freePortAfter(port);
      console.error(
        `error: port ${port} is in use; try deno task serve ${free ?? 0}` +
          (free ? " (0 picks any free port)" : ""),
      );
      Deno.exit(2);
    }
    throw e;
  }
}

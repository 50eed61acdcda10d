/**
 * Headless Chromium for the browser tests: Debian's `chromium-headless-shell` driven by
 * puppeteer-core, with WebGPU on (on a machine without a GPU: Chromium's SwiftShader adapter) and
 * every background connection off (the machine has no network). The page is served from this
 * repository by tools/serve.ts's handler on a loopback port.
 */
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { existsSync } from "node:fs";
import { staticHandler } from "../../tools/serve.ts";

const CANDIDATES = [
  "/usr/lib/chromium/chromium-headless-shell",
  "/usr/bin/chromium-headless-shell",
  "/usr/bin/chromium",
];

/** The Chromium binary (RESGPU_CHROMIUM overrides), or null when none is installed. */
export function chromiumPath(): string | null {
  const env = Deno.env.get("RESGPU_CHROMIUM");
  if (env) return env;
  return CANDIDATES.find((p) => existsSync(p)) ?? null;
}

/** Flags: WebGPU on; no sandbox (tests run as root); nothing that reaches for the network. */
export const CHROMIUM_FLAGS = [
  "--enable-unsafe-webgpu",
  "--no-sandbox",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-default-apps",
  "--disable-extensions",
];

export interface BrowserSession {
  browser: Browser;
  page: Page;
  /** http://127.0.0.1:PORT/ of the static server (web/ and dist/). */
  base: string;
  /** Console lines the page printed (errors included), for failure messages. */
  console: string[];
  close(): Promise<void>;
}

/** Starts the static server and Chromium with one open page. */
export async function openBrowser(): Promise<BrowserSession> {
  const root = new URL("../../", import.meta.url).pathname;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    staticHandler(root),
  );
  const path = chromiumPath();
  if (!path) throw new Error("no Chromium: apt-get install chromium-headless-shell");
  let browser: Browser;
  try {
    browser = await puppeteer.launch({
      executablePath: path,
      headless: "shell",
      args: CHROMIUM_FLAGS,
      protocolTimeout: 600_000,
    });
  } catch (e) {
    await server.shutdown();
    throw e;
  }
  const page = await browser.newPage();
  page.setDefaultTimeout(600_000);
  const lines: string[] = [];
  page.on("console", (m) => lines.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => lines.push(`pageerror: ${(e as Error).message ?? e}`));
  return {
    browser,
    page,
    base: `http://127.0.0.1:${server.addr.port}/`,
    console: lines,
    async close() {
      await browser.close();
      await server.shutdown();
    },
  };
}

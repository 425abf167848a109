// Drives the test page in headless Chromium (playwright-core, Debian's browser):
//
//   node run.mjs --page DIR --screenshot FILE [--chromium PATH] [--timeout-ms N]
//
// 1. Serves DIR (built by build.mjs) on two ports of 127.0.0.1, two origins, and prints
//    "origin http://127.0.0.1:P" for the one the server is to allow.
// 2. Reads "server URL" from stdin: the rgrpc server, started with that origin allowed.
// 3. Loads the page from the allowed origin, waits (bounded) for its results, saves a
//    screenshot to FILE; then loads it from the other origin, which makes one probe call
//    per transport.
// 4. Prints "results JSON": { allowed, other, requests }, where requests lists the calls
//    Chromium made to the server (method, path, content-type), and exits 0.
// Any failure prints "runner: error: ..." on stderr and exits 1; a usage error exits 2.

import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer } from "node:http";
import { extname, join, normalize, resolve, sep } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";

import { chromium } from "playwright-core";

const { values } = parseArgs({
  options: {
    page: { type: "string" },
    screenshot: { type: "string" },
    chromium: { type: "string", default: "/usr/bin/chromium" },
    "timeout-ms": { type: "string", default: "120000" },
  },
});
const timeoutMs = Number(values["timeout-ms"]);
if (!values.page || !values.screenshot || !(timeoutMs > 0)) {
  console.error("usage: node run.mjs --page DIR --screenshot FILE [--chromium PATH] [--timeout-ms N]");
  process.exit(2);
}
const root = resolve(values.page);

// The flags this machine's Chromium needs: no sandbox as root, and no background
// connections, which the closed network refuses.
const CHROMIUM_ARGS = [
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8" };

// A static file server for `root` on 127.0.0.1 (GET only, nothing outside root): its origin.
async function serveStatic(servers) {
  const server = createServer(async (request, response) => {
    let file = "";
    try {
      const path = decodeURIComponent(new URL(request.url, "http://x").pathname);
      file = normalize(join(root, path === "/" ? "index.html" : path));
    } catch {
      // A malformed path is simply not found.
    }
    const type = TYPES[extname(file)];
    const found =
      request.method === "GET" &&
      file.startsWith(root + sep) &&
      type !== undefined &&
      (await stat(file).then((s) => s.isFile(), () => false));
    if (!found) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-type": type, "cache-control": "no-store" });
    createReadStream(file).pipe(response);
  });
  servers.push(server);
  await new Promise((done, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", done);
  });
  return `http://127.0.0.1:${server.address().port}`;
}

// The next line on stdin, within the time limit.
function readLine(lines, what) {
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`no ${what} on stdin within ${timeoutMs} ms`)), timeoutMs);
    lines.once("line", (line) => {
      clearTimeout(timer);
      done(line);
    });
    lines.once("close", () => fail(new Error(`stdin closed before ${what}`)));
  });
}

// Loads `url` and waits for the page's results (JSON); an uncaught error in the page ends
// the wait at once.
async function results(page, url) {
  let onError;
  const failed = new Promise((_, fail) => {
    onError = (error) => fail(new Error(`the page at ${url} threw: ${error}`));
    page.on("pageerror", onError);
  });
  try {
    await page.goto(url, { timeout: timeoutMs });
    const done = page.waitForSelector('#results[data-done="true"]', { timeout: timeoutMs });
    const element = await Promise.race([done, failed]);
    return JSON.parse(await element.textContent());
  } finally {
    page.off("pageerror", onError);
  }
}

async function main() {
  const servers = [];
  let browser;
  try {
    const allowed = await serveStatic(servers);
    const other = await serveStatic(servers);
    console.log(`origin ${allowed}`);
    const lines = createInterface({ input: process.stdin });
    const line = await readLine(lines, "server line");
    const server = line.startsWith("server ") ? line.slice("server ".length).trim() : null;
    if (!server) throw new Error(`expected "server URL" on stdin, got ${JSON.stringify(line)}`);
    lines.close();

    browser = await chromium.launch({
      executablePath: values.chromium,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: timeoutMs,
    });
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    const page = await context.newPage();
    page.on("console", (message) => console.error(`page console: ${message.text()}`));
    const requests = [];
    page.on("request", (request) => {
      if (request.url().startsWith(server)) {
        requests.push({
          origin: new URL(page.url()).origin,
          method: request.method(),
          path: new URL(request.url()).pathname,
          contentType: request.headers()["content-type"] ?? null,
        });
      }
    });
    const query = `server=${encodeURIComponent(server)}`;
    const fromAllowed = await results(page, `${allowed}/index.html?${query}`);
    await page.screenshot({ path: values.screenshot, fullPage: true, timeout: timeoutMs });
    const fromOther = await results(page, `${other}/index.html?${query}&calls=probe`);
    console.log(`results ${JSON.stringify({ allowed: fromAllowed, other: fromOther, requests })}`);
  } finally {
    await browser?.close();
    for (const server of servers) server.close();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`runner: error: ${err?.stack ?? err}`);
    process.exit(1);
  },
);

// Builds the test page: node build.mjs --descriptors FILE --out DIR
//
// Bundles page/main.js with esbuild into DIR/main.js, with the FileDescriptorSet in FILE
// (grpc.testing's schema) embedded as base64, and copies page/index.html beside it.
// Prints "built DIR/main.js (N bytes) in N ms".

import { copyFile, mkdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: { descriptors: { type: "string" }, out: { type: "string" } },
});
if (!values.descriptors || !values.out) {
  console.error("usage: node build.mjs --descriptors FILE --out DIR");
  process.exit(2);
}

const started = performance.now();
const descriptors = await readFile(values.descriptors);
await mkdir(values.out, { recursive: true });
const outfile = join(values.out, "main.js");
const result = await build({
  entryPoints: [join(here, "page/main.js")],
  outfile,
  bundle: true,
  format: "esm",
  target: "es2022",
  logLevel: "warning",
  define: { RGRPC_DESCRIPTORS: JSON.stringify(descriptors.toString("base64")) },
  metafile: true,
});
await copyFile(join(here, "page/index.html"), join(values.out, "index.html"));
const bytes = result.metafile.outputs[Object.keys(result.metafile.outputs)[0]].bytes;
console.log(`built ${outfile} (${bytes} bytes) in ${Math.round(performance.now() - started)} ms`);

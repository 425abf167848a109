// The browser side of interop/tests/browser.rs: calls rgrpc's interop server (another
// origin, given as ?server=URL) with @connectrpc/connect-web's two transports, and writes
// what came back into <pre id="results"> as JSON, marked data-done="true" at the end.
// ?calls=probe makes only one unary call per transport (for a page whose origin the
// server's CORS policy does not allow).

import {
  Code,
  ConnectError,
  createClient,
  decodeBinaryHeader,
  encodeBinaryHeader,
} from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { base64Decode } from "@bufbuild/protobuf/wire";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

// The schema, from the FileDescriptorSet that build.mjs embeds (base64) in the bundle: the
// descriptors protoc-gen-rgrpc put in the interop server's generated code. The set's files
// come in any order, so imports are looked up by name.
/* global RGRPC_DESCRIPTORS */
function testService() {
  const set = fromBinary(FileDescriptorSetSchema, base64Decode(RGRPC_DESCRIPTORS));
  const files = new Map(set.file.map((file) => [file.name, file]));
  const registry = createFileRegistry(files.get("grpc/testing/test.proto"), (name) => files.get(name));
  return registry.getService("grpc.testing.TestService");
}

// grpc.testing's special_status_message case: whitespace and non-ASCII survive each protocol.
const SPECIAL_MESSAGE = "\t\ntest with whitespace\r\nand Unicode BMP \u263A and non-BMP \uD83D\uDE08\t\n";
// Generous: only the deadline cases are meant to run out of time.
const CALL_TIMEOUT_MS = 60_000;
const SHORT_DEADLINE_MS = 500;
// The slow method sleeps far longer than the short deadline; the server drops it at the deadline.
const SLOW_MS = 60_000;

const sizes = (payloads) => payloads.map((p) => p.payload?.body.length ?? -1);

// Runs one call, returning its outcome: `{ code: "OK", ... }` or the error's code name and
// raw message, with whatever `partial` gathered before the error.
async function outcome(call) {
  const partial = {};
  try {
    return { code: "OK", ...(await call(partial)) };
  } catch (err) {
    const error = ConnectError.from(err);
    return { ...partial, code: Code[error.code], message: error.rawMessage };
  }
}

async function collect(stream, partial) {
  const got = [];
  partial.sizes = [];
  for await (const response of stream) {
    got.push(response);
    partial.sizes = sizes(got);
  }
  return { sizes: sizes(got) };
}

// Every call, in order, against one transport.
function calls(client) {
  return {
    unary: () =>
      outcome(async () => {
        const response = await client.unaryCall(
          { responseSize: 314159, payload: { body: new Uint8Array(271828) } },
          { timeoutMs: CALL_TIMEOUT_MS },
        );
        return { payloadSize: response.payload?.body.length ?? -1 };
      }),
    serverStream: () =>
      outcome((partial) =>
        collect(
          client.streamingOutputCall(
            { responseParameters: [31415, 9, 2653, 58979].map((size) => ({ size })) },
            { timeoutMs: CALL_TIMEOUT_MS },
          ),
          partial,
        ),
      ),
    metadata: () =>
      outcome(async () => {
        let initial = null;
        let trailing = null;
        await client.unaryCall(
          { responseSize: 1 },
          {
            timeoutMs: CALL_TIMEOUT_MS,
            headers: {
              "x-grpc-test-echo-initial": "test_initial_metadata_value",
              "x-grpc-test-echo-trailing-bin": encodeBinaryHeader(new Uint8Array([0xab, 0xab, 0xab])),
            },
            onHeader: (headers) => {
              initial = headers.get("x-grpc-test-echo-initial");
            },
            onTrailer: (trailers) => {
              const value = trailers.get("x-grpc-test-echo-trailing-bin");
              trailing = value === null ? null : Array.from(decodeBinaryHeader(value));
            },
          },
        );
        return { initial, trailing };
      }),
    unaryDeadline: () =>
      outcome(async () => {
        await client.unaryCall(
          { responseSize: 1 },
          { timeoutMs: SHORT_DEADLINE_MS, headers: { "x-interop-sleep-ms": String(SLOW_MS) } },
        );
        return {};
      }),
    streamDeadline: () =>
      outcome((partial) =>
        collect(
          client.streamingOutputCall(
            { responseParameters: [{ size: 7, intervalUs: SLOW_MS * 1000 }] },
            { timeoutMs: SHORT_DEADLINE_MS },
          ),
          partial,
        ),
      ),
    unaryError: () =>
      outcome(async () => {
        await client.unaryCall(
          { responseStatus: { code: Code.Unknown, message: SPECIAL_MESSAGE } },
          { timeoutMs: CALL_TIMEOUT_MS },
        );
        return {};
      }),
    streamError: () =>
      outcome((partial) =>
        collect(
          client.streamingOutputCall(
            {
              responseParameters: [{ size: 5 }],
              responseStatus: { code: Code.FailedPrecondition, message: "failed after one message" },
            },
            { timeoutMs: CALL_TIMEOUT_MS },
          ),
          partial,
        ),
      ),
    unimplemented: () =>
      outcome(async () => {
        await client.unimplementedCall({}, { timeoutMs: CALL_TIMEOUT_MS });
        return {};
      }),
  };
}

function show(transport, name, result) {
  const row = document.createElement("tr");
  const { code, message, ...details } = result;
  for (const [text, cls] of [
    [transport],
    [name],
    [message === undefined ? code : `${code}: ${JSON.stringify(message)}`, code === "OK" ? "ok" : "error"],
    [JSON.stringify(details)],
  ]) {
    const cell = document.createElement("td");
    cell.textContent = text;
    if (cls) cell.className = cls;
    row.append(cell);
  }
  document.querySelector("#summary tbody").append(row);
}

async function main() {
  const query = new URLSearchParams(location.search);
  const server = query.get("server");
  const probe = query.get("calls") === "probe";
  document.getElementById("where").textContent =
    `this page: ${location.origin} · server: ${server}` + (probe ? " · probe only" : "");
  const transports = {
    connect: createConnectTransport({ baseUrl: server, useBinaryFormat: true }),
    "grpc-web": createGrpcWebTransport({ baseUrl: server, useBinaryFormat: true }),
  };
  const TestService = testService();
  const results = { origin: location.origin, server, transports: {} };
  for (const [name, transport] of Object.entries(transports)) {
    const all = calls(createClient(TestService, transport));
    const chosen = probe ? { unary: all.unary } : all;
    results.transports[name] = {};
    for (const [call, run] of Object.entries(chosen)) {
      const result = await run();
      results.transports[name][call] = result;
      show(name, call, result);
    }
  }
  return results;
}

const out = document.getElementById("results");
main()
  .catch((err) => ({ fatal: String(err?.stack ?? err) }))
  .then((results) => {
    out.textContent = JSON.stringify(results);
    out.dataset.done = "true";
  });

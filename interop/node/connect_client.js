#!/usr/bin/env node
'use strict';
// A @connectrpc/connect-node client of grpc.testing.TestService, for the tests of issue 18
// (interop/tests/connect_node.rs): it runs cases against a server and reports what it
// observed, one JSON line per case, and leaves the judging to the Rust test.
//
// Usage:
//     node connect_client.js --port P --transport T --descriptors FILE --cases C1,C2,...
//                            [--json true] [--host 127.0.0.1]
//
// T is the connect-node transport: connect-h1 / connect-h2 (the Connect protocol over
// HTTP/1.1 / HTTP/2), grpc-web-h1 / grpc-web-h2, or grpc (HTTP/2). --json true uses the
// JSON codec (useBinaryFormat: false) instead of binary protobuf. FILE is the
// FileDescriptorSet holding grpc/testing/test.proto (see connect_common.js).
//
// Each line is {"case": NAME, "code": "OK" | "DEADLINE_EXCEEDED" | ..., ...}: the status
// the call ended with (a ConnectError's code, "OK" if none), its message and the
// grpc.testing.EchoStatus details it carried, and whatever the case measured: payload
// sizes, the echoed metadata, the response's content-encoding headers. A case that could
// not run at all reports {"case": NAME, "crash": "..."}. Exit code: 0 once every case has
// reported, 2 on a usage error.

const { parseFlags } = require('./common');
const {
  ECHO_INITIAL_KEY, ECHO_TRAILING_KEY, SLEEP_KEY, loadConnect, loadSchema, codeName, hex,
} = require('./connect_common');

const TOOL = 'connect_client';
const ECHO_INITIAL_VALUE = 'test_initial_metadata_value';
const ECHO_TRAILING_VALUE = new Uint8Array([0xab, 0xab, 0xab]);
const SPECIAL_MESSAGE = '\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \u{1f608}\t\n';
/** How long a case's call may take unless the case sets its own (short) deadline. */
const CALL_LIMIT_MS = 60000;
/** The short deadline of the deadline cases; the server would take 20 s. */
const SHORT_DEADLINE_MS = 500;
const SLEEP_MS = 20000;
/** The response headers that name a response's compression, per protocol. */
const ENCODING_HEADERS = ['content-encoding', 'connect-content-encoding', 'grpc-encoding'];

function usage(problem) {
  if (problem) {
    process.stderr.write(`${TOOL}: ${problem}\n`);
  }
  process.stderr.write(`usage: node connect_client.js --port P --transport T --descriptors FILE \
--cases C1,C2,... [--json true] [--host H]\n  T: ${Object.keys(TRANSPORTS).join(', ')}\n  cases: ${
    Object.keys(CASES).join(', ')}\n`);
  process.exit(2);
}

/** connect-node's transports by name: (factory, HTTP version). */
const TRANSPORTS = {
  'connect-h1': ['createConnectTransport', '1.1'],
  'connect-h2': ['createConnectTransport', '2'],
  'grpc-web-h1': ['createGrpcWebTransport', '1.1'],
  'grpc-web-h2': ['createGrpcWebTransport', '2'],
  grpc: ['createGrpcTransport', '2'],
};

/**
 * What one case needs: the client, the schema, the modules, and `watch()`, call options
 * that record the response headers the transport saw (through an interceptor).
 */
class Env {
  constructor(modules, schema, transport, encodings) {
    this.m = modules;
    this.s = schema;
    this.client = modules.connect.createClient(schema.TestService, transport);
    this.unimplemented = modules.connect.createClient(schema.UnimplementedService, transport);
    this.encodings = encodings;
  }

  create(name, init) {
    return this.m.protobuf.create(this.s[name], init);
  }

  payload(size) {
    return { body: new Uint8Array(size) };
  }

  /** Call options with the standard deadline, plus `extra`, recording response headers. */
  options(extra = {}) {
    const seen = {};
    const contextValues = this.m.connect.createContextValues().set(this.encodings, seen);
    return { seen, options: { timeoutMs: CALL_LIMIT_MS, contextValues, ...extra } };
  }

  /** The metadata the interop server echoes, and callbacks that record what came back. */
  echoOptions(extra = {}) {
    const echoed = {};
    const headers = {
      [ECHO_INITIAL_KEY]: ECHO_INITIAL_VALUE,
      [ECHO_TRAILING_KEY]: this.m.connect.encodeBinaryHeader(ECHO_TRAILING_VALUE),
    };
    const options = {
      timeoutMs: CALL_LIMIT_MS,
      headers,
      onHeader: (h) => { echoed.initial = h.get(ECHO_INITIAL_KEY); },
      onTrailer: (t) => {
        const value = t.get(ECHO_TRAILING_KEY);
        echoed.trailing_bin_hex = value === null
          ? null : hex(this.m.connect.decodeBinaryHeader(value));
      },
      ...extra,
    };
    return { echoed, options };
  }

  /** A call's outcome: "OK", or the ConnectError's code, message and EchoStatus details. */
  failure(err) {
    const { ConnectError } = this.m.connect;
    if (!(err instanceof ConnectError)) {
      throw err;
    }
    return {
      code: codeName(this.m.connect.Code, err.code),
      message: err.rawMessage,
      details: err.findDetails(this.s.EchoStatus).map((d) => ({ code: d.code, message: d.message })),
    };
  }

  async outcome(call) {
    try {
      return { code: 'OK', ...(await call()) };
    } catch (err) {
      return this.failure(err);
    }
  }
}

/** Reads a response stream to its end: the payload sizes, then the outcome. */
async function drain(env, responses) {
  const sizes = [];
  try {
    for await (const response of responses) {
      sizes.push(response.payload ? response.payload.body.length : 0);
    }
    return { code: 'OK', response_sizes: sizes };
  } catch (err) {
    return { response_sizes: sizes, ...env.failure(err) };
  }
}

async function* each(items) {
  for (const item of items) {
    yield item;
  }
}

/**
 * A ping-pong request stream: each request goes out only after the answer to the one
 * before has arrived, so the server must answer before the client half-closes.
 */
function pingPong(env, pairs) {
  let answered = () => {};
  async function* requests() {
    for (const [responseSize, requestSize] of pairs) {
      const next = new Promise((resolve) => { answered = resolve; });
      yield env.create('StreamingOutputCallRequest', {
        responseParameters: [{ size: responseSize }],
        payload: env.payload(requestSize),
      });
      await next;
    }
  }
  return { requests: requests(), answered: () => answered() };
}

const PING_PONG = [[31415, 27182], [9, 8], [2653, 1828], [58979, 45904]];
const CLIENT_STREAM = [27182, 8, 1828, 45904];
const SERVER_STREAM = [31415, 9, 2653, 58979];

const CASES = {
  async empty_unary(env) {
    return env.outcome(async () => {
      await env.client.emptyCall({}, { timeoutMs: CALL_LIMIT_MS });
      return {};
    });
  },

  async large_unary(env) {
    return env.outcome(async () => {
      const response = await env.client.unaryCall({
        responseSize: 314159, payload: env.payload(271828),
      }, { timeoutMs: CALL_LIMIT_MS });
      return { response_size: response.payload.body.length };
    });
  },

  async server_streaming(env) {
    return drain(env, env.client.streamingOutputCall({
      responseParameters: SERVER_STREAM.map((size) => ({ size })),
    }, { timeoutMs: CALL_LIMIT_MS }));
  },

  async client_streaming(env) {
    return env.outcome(async () => {
      const response = await env.client.streamingInputCall(
        each(CLIENT_STREAM.map((size) => env.create('StreamingInputCallRequest', {
          payload: env.payload(size),
        }))),
        { timeoutMs: CALL_LIMIT_MS },
      );
      return { aggregated_payload_size: response.aggregatedPayloadSize };
    });
  },

  async ping_pong(env) {
    const { requests, answered } = pingPong(env, PING_PONG);
    const sizes = [];
    try {
      for await (const response of env.client.fullDuplexCall(requests, { timeoutMs: CALL_LIMIT_MS })) {
        sizes.push(response.payload.body.length);
        answered();
      }
      return { code: 'OK', response_sizes: sizes };
    } catch (err) {
      return { response_sizes: sizes, ...env.failure(err) };
    }
  },

  async empty_stream(env) {
    return drain(env, env.client.fullDuplexCall(each([]), { timeoutMs: CALL_LIMIT_MS }));
  },

  async custom_metadata_unary(env) {
    const { echoed, options } = env.echoOptions();
    const result = await env.outcome(async () => {
      const response = await env.client.unaryCall({
        responseSize: 314159, payload: env.payload(271828),
      }, options);
      return { response_size: response.payload.body.length };
    });
    return { ...result, ...echoed };
  },

  async custom_metadata_server_streaming(env) {
    const { echoed, options } = env.echoOptions();
    const result = await drain(env, env.client.streamingOutputCall({
      responseParameters: [{ size: 314159 }],
    }, options));
    return { ...result, ...echoed };
  },

  async custom_metadata_bidi(env) {
    const { echoed, options } = env.echoOptions();
    const result = await drain(env, env.client.fullDuplexCall(each([
      env.create('StreamingOutputCallRequest', {
        responseParameters: [{ size: 314159 }], payload: env.payload(271828),
      }),
    ]), options));
    return { ...result, ...echoed };
  },

  async error_unary(env) {
    return env.outcome(async () => {
      await env.client.unaryCall({
        responseStatus: { code: 2, message: 'test status message' },
      }, { timeoutMs: CALL_LIMIT_MS });
      return {};
    });
  },

  async special_status_message(env) {
    return env.outcome(async () => {
      await env.client.unaryCall({
        responseStatus: { code: 2, message: SPECIAL_MESSAGE },
      }, { timeoutMs: CALL_LIMIT_MS });
      return {};
    });
  },

  async error_server_streaming(env) {
    // Two messages, then the status: the messages arrive, then the error with its details.
    return drain(env, env.client.streamingOutputCall({
      responseParameters: [{ size: 3 }, { size: 5 }],
      responseStatus: { code: 9, message: 'after two messages' },
    }, { timeoutMs: CALL_LIMIT_MS }));
  },

  async error_bidi(env) {
    return drain(env, env.client.fullDuplexCall(each([
      env.create('StreamingOutputCallRequest', { responseParameters: [{ size: 7 }] }),
      env.create('StreamingOutputCallRequest', {
        responseStatus: { code: 10, message: 'second request aborts' },
      }),
    ]), { timeoutMs: CALL_LIMIT_MS }));
  },

  async unimplemented_method(env) {
    return env.outcome(async () => {
      await env.client.unimplementedCall({}, { timeoutMs: CALL_LIMIT_MS });
      return {};
    });
  },

  async unimplemented_service(env) {
    return env.outcome(async () => {
      await env.unimplemented.unimplementedCall({}, { timeoutMs: CALL_LIMIT_MS });
      return {};
    });
  },

  async deadline_unary(env) {
    return env.outcome(async () => {
      await env.client.unaryCall({ responseSize: 1 }, {
        timeoutMs: SHORT_DEADLINE_MS, headers: { [SLEEP_KEY]: String(SLEEP_MS) },
      });
      return {};
    });
  },

  async deadline_server_streaming(env) {
    // One message at once, the second only after 20 s: the deadline ends the stream.
    return drain(env, env.client.streamingOutputCall({
      responseParameters: [{ size: 1 }, { size: 2, intervalUs: SLEEP_MS * 1000 }],
    }, { timeoutMs: SHORT_DEADLINE_MS }));
  },

  async deadline_bidi(env) {
    // The request stream stays open; the server answers the one request 20 s late.
    let release = () => {};
    const held = new Promise((resolve) => { release = resolve; });
    async function* requests() {
      yield env.create('StreamingOutputCallRequest', {
        responseParameters: [{ size: 1, intervalUs: SLEEP_MS * 1000 }],
      });
      await held;
    }
    try {
      return await drain(env, env.client.fullDuplexCall(requests(), { timeoutMs: SHORT_DEADLINE_MS }));
    } finally {
      release();
    }
  },

  /** Without request compression, expect_compressed must be refused: the check is real. */
  async compressed_unary_probe(env) {
    return env.outcome(async () => {
      await env.client.unaryCall({
        expectCompressed: { value: true }, responseSize: 10, payload: env.payload(271828),
      }, { timeoutMs: CALL_LIMIT_MS });
      return {};
    });
  },

  async compressed_unary(env) {
    const { seen, options } = env.options();
    const result = await env.outcome(async () => {
      const response = await env.compressed.unaryCall({
        expectCompressed: { value: true },
        responseCompressed: { value: true },
        responseSize: 314159,
        payload: env.payload(271828),
      }, options);
      return { response_size: response.payload.body.length };
    });
    return { ...result, response_encodings: seen };
  },

  async compressed_server_streaming(env) {
    const { seen, options } = env.options();
    const result = await drain(env, env.compressed.streamingOutputCall({
      responseParameters: [
        { size: 31415, compressed: { value: true } },
        { size: 92653, compressed: { value: true } },
      ],
    }, options));
    return { ...result, response_encodings: seen };
  },

  async compressed_client_streaming(env) {
    return env.outcome(async () => {
      const response = await env.compressed.streamingInputCall(
        each([27182, 45904].map((size) => env.create('StreamingInputCallRequest', {
          expectCompressed: { value: true }, payload: env.payload(size),
        }))),
        { timeoutMs: CALL_LIMIT_MS },
      );
      return { aggregated_payload_size: response.aggregatedPayloadSize };
    });
  },
};

async function main() {
  const flags = parseFlags(process.argv.slice(2), {
    host: '127.0.0.1', port: undefined, transport: undefined, descriptors: undefined,
    cases: undefined, json: 'false',
  }, usage);
  const how = TRANSPORTS[flags.transport];
  if (!how) {
    usage(`unknown transport ${JSON.stringify(flags.transport)}`);
  }
  const names = flags.cases.split(',');
  const unknown = names.find((name) => !CASES[name]);
  if (unknown) {
    usage(`unknown case ${JSON.stringify(unknown)}`);
  }
  const modules = loadConnect(TOOL);
  const schema = loadSchema(modules, flags.descriptors);
  const [factory, httpVersion] = how;
  const encodings = modules.connect.createContextKey(null);
  // Records the response headers that say how the response was compressed.
  const recordEncodings = (next) => async (request) => {
    const response = await next(request);
    const seen = request.contextValues.get(encodings);
    if (seen) {
      for (const name of ENCODING_HEADERS) {
        const value = response.header.get(name);
        if (value !== null) {
          seen[name] = value;
        }
      }
    }
    return response;
  };
  const common = {
    baseUrl: `http://${flags.host}:${flags.port}`,
    httpVersion,
    useBinaryFormat: flags.json !== 'true',
    interceptors: [recordEncodings],
  };
  const { compressionGzip } = modules.node;
  // By default the client accepts no compressed responses, so that a compressed answer
  // is one the compressing client asked for.
  const plain = modules.node[factory]({ ...common, acceptCompression: [] });
  const compressing = modules.node[factory]({
    ...common, sendCompression: compressionGzip, acceptCompression: [compressionGzip],
  });
  const env = new Env(modules, schema, plain, encodings);
  env.compressed = modules.connect.createClient(schema.TestService, compressing);
  for (const name of names) {
    let report;
    try {
      report = await CASES[name](env);
    } catch (err) {
      report = { crash: String(err && err.stack ? err.stack : err) };
    }
    process.stdout.write(`${JSON.stringify({ case: name, ...report })}\n`);
  }
  // HTTP/2 sessions and keep-alive sockets would otherwise hold the process open.
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`${TOOL}: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});

#!/usr/bin/env node
'use strict';
// A @connectrpc/connect-node server of grpc.testing.TestService, for rgrpc's own clients
// (Connect, gRPC-Web, gRPC) in interop/tests/connect_node.rs.
//
// Usage:
//     node connect_server.js --port 0 --http 1.1|2 --descriptors FILE [--observations OBS]
//
// --http 1.1 serves connectNodeAdapter on Node's http.createServer (HTTP/1.1 only);
// --http 2 on http2.createServer (HTTP/2 with prior knowledge, no TLS). Either way the
// adapter serves all three protocols. Prints "listening on 127.0.0.1:PORT" once ready.
// Stops on SIGTERM or SIGINT. With --observations, it appends one JSON line to OBS as
// each call reaches its handler: {"method": "UnaryCall", "protocol": "connect"} (the
// protocol as connect-node recognised it: connect, grpc-web or grpc).
//
// The service does what rgrpc's interop server does (interop/src/service.rs): payloads of
// zeros, response_status (with the request's EchoStatus as the error's one detail),
// interval_us, the echoed x-grpc-test-echo-initial and x-grpc-test-echo-trailing-bin, and
// x-interop-sleep-ms on UnaryCall. Two limits of connect-node, as its server exposes no
// per-message compression:
// * expect_compressed is checked against the encoding the request declared
//   (content-encoding, connect-content-encoding or grpc-encoding), not against each
//   message's flag;
// * response_compressed and ResponseParameters.compressed are not honoured one by one:
//   connect-node compresses every response message of 1 KiB or more, in gzip, whenever
//   the client accepts gzip.

const fs = require('fs');
const http = require('http');
const http2 = require('http2');
const { parseFlags } = require('./common');
const {
  ECHO_INITIAL_KEY, ECHO_TRAILING_KEY, SLEEP_KEY, loadConnect, loadSchema,
} = require('./connect_common');

const TOOL = 'connect_server';
/** The request headers that name a request's compression, per protocol. */
const REQUEST_ENCODINGS = ['content-encoding', 'connect-content-encoding', 'grpc-encoding'];

function usage(problem) {
  if (problem) {
    process.stderr.write(`${TOOL}: ${problem}\n`);
  }
  process.stderr.write('usage: node connect_server.js --port N --http 1.1|2 --descriptors FILE ' +
    '[--observations FILE]\n');
  process.exit(2);
}

/** Waits `ms`, or rejects with the call's end (deadline, cancellation) if it comes first. */
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function service(modules, schema) {
  const { ConnectError, Code } = modules.connect;

  const payload = (size) => {
    if (size < 0) {
      throw new ConnectError(`payload size ${size} is negative`, Code.InvalidArgument);
    }
    return { type: 0, body: new Uint8Array(size) };
  };

  /** The error a request's response_status asks for, with the EchoStatus as its detail. */
  const requested = (status) => {
    if (!status || status.code === 0) {
      return null;
    }
    return new ConnectError(status.message, status.code, undefined, [
      { desc: schema.EchoStatus, value: { code: status.code, message: status.message } },
    ]);
  };

  const checkType = (responseType) => {
    if (responseType !== 0) {
      throw new ConnectError(
        `response type ${responseType} is not supported (only COMPRESSABLE)`,
        Code.InvalidArgument,
      );
    }
  };

  const checkCompressed = (ctx, expectCompressed) => {
    if (!expectCompressed || !expectCompressed.value) {
      return;
    }
    const declared = REQUEST_ENCODINGS
      .map((name) => ctx.requestHeader.get(name))
      .some((value) => value !== null && value !== 'identity');
    if (!declared) {
      throw new ConnectError(
        'expect_compressed is true but the request message arrived uncompressed',
        Code.InvalidArgument,
      );
    }
  };

  const echoMetadata = (ctx) => {
    const initial = ctx.requestHeader.get(ECHO_INITIAL_KEY);
    if (initial !== null) {
      ctx.responseHeader.set(ECHO_INITIAL_KEY, initial);
    }
    const trailing = ctx.requestHeader.get(ECHO_TRAILING_KEY);
    if (trailing !== null) {
      ctx.responseTrailer.set(ECHO_TRAILING_KEY, trailing);
    }
  };

  async function* respond(ctx, parameters) {
    for (const parameter of parameters) {
      if (parameter.intervalUs > 0) {
        await sleep(parameter.intervalUs / 1000, ctx.signal);
      }
      yield { payload: payload(parameter.size) };
    }
  }

  async function* answer(ctx, request) {
    const error = requested(request.responseStatus);
    if (error) {
      throw error;
    }
    checkType(request.responseType);
    yield* respond(ctx, request.responseParameters);
  }

  async function unary(request, ctx) {
    echoMetadata(ctx);
    checkCompressed(ctx, request.expectCompressed);
    const sleepMs = ctx.requestHeader.get(SLEEP_KEY);
    if (sleepMs !== null) {
      const ms = Number(sleepMs);
      if (!Number.isInteger(ms) || ms < 0) {
        throw new ConnectError(`${SLEEP_KEY} must be a number of milliseconds`, Code.InvalidArgument);
      }
      await sleep(ms, ctx.signal);
    }
    const error = requested(request.responseStatus);
    if (error) {
      throw error;
    }
    checkType(request.responseType);
    return { payload: payload(request.responseSize) };
  }

  return {
    emptyCall() {
      return {};
    },
    unaryCall: unary,
    cacheableUnaryCall: unary,
    async* streamingOutputCall(request, ctx) {
      echoMetadata(ctx);
      checkType(request.responseType);
      yield* respond(ctx, request.responseParameters);
      const error = requested(request.responseStatus);
      if (error) {
        throw error;
      }
    },
    async streamingInputCall(requests, ctx) {
      let total = 0;
      for await (const request of requests) {
        checkCompressed(ctx, request.expectCompressed);
        total += request.payload ? request.payload.body.length : 0;
      }
      return { aggregatedPayloadSize: total };
    },
    async* fullDuplexCall(requests, ctx) {
      echoMetadata(ctx);
      for await (const request of requests) {
        yield* answer(ctx, request);
      }
    },
    async* halfDuplexCall(requests, ctx) {
      echoMetadata(ctx);
      const all = [];
      for await (const request of requests) {
        all.push(request);
      }
      for (const request of all) {
        yield* answer(ctx, request);
      }
    },
    // UnimplementedCall is left out: connect-node answers it UNIMPLEMENTED.
  };
}

/** `impl` with each method first recording its call in `file`. */
function observed(impl, file) {
  const wrapped = {};
  for (const [name, method] of Object.entries(impl)) {
    wrapped[name] = (request, ctx) => {
      const line = JSON.stringify({ method: ctx.method.name, protocol: ctx.protocolName });
      fs.appendFileSync(file, `${line}\n`);
      return method(request, ctx);
    };
  }
  return wrapped;
}

function main() {
  const flags = parseFlags(process.argv.slice(2), {
    port: '0', http: undefined, descriptors: undefined, observations: '',
  }, usage);
  if (flags.http !== '1.1' && flags.http !== '2') {
    usage(`--http must be 1.1 or 2, got ${JSON.stringify(flags.http)}`);
  }
  const port = Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    usage(`--port must be 0-65535, got ${JSON.stringify(flags.port)}`);
  }
  const modules = loadConnect(TOOL);
  const schema = loadSchema(modules, flags.descriptors);
  let impl = service(modules, schema);
  if (flags.observations) {
    impl = observed(impl, flags.observations);
  }
  const handler = modules.node.connectNodeAdapter({
    routes: (router) => router.service(schema.TestService, impl),
  });
  const server = flags.http === '2' ? http2.createServer(handler) : http.createServer(handler);
  server.listen(port, '127.0.0.1', () => {
    process.stdout.write(`listening on 127.0.0.1:${server.address().port}\n`);
  });
  const stop = () => {
    server.close();
    // Open connections (HTTP/2 sessions, keep-alive sockets) would hold it open.
    setTimeout(() => process.exit(0), 1000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();

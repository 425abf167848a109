#!/usr/bin/env node
'use strict';
// @grpc/grpc-js interop server for the rgrpc interop harness: the same command line and
// behaviour as interop/python/interop_server.py.
//
// Usage:
//     node interop_server.js --port N [--observations FILE]
//
// Serves grpc.testing.TestService on 127.0.0.1:N (N=0 picks a free port) and prints
// exactly one line `listening on 127.0.0.1:PORT` on stdout once it is listening.
// SIGTERM / SIGINT stop it (grace 1 s, then the remaining calls are cut), exit code 0.
//
// Observations (--observations FILE): one JSON line appended per RPC once it ends, e.g.
// {"method": "FullDuplexCall", "outcome": "cancelled"}; outcome is one of ok / error /
// deadline_exceeded / cancelled, as grpc-js saw the call end (see README.md).
//
// rgrpc extension: request header `x-interop-sleep-ms: <ms>` makes every method sleep that
// long before answering (unary: before the response; streaming: before the first response;
// StreamingInputCall: after the client half-closed), returning early as soon as the RPC is
// cancelled or its deadline passes.
//
// Compression (doc/interop-test-descriptions.md, CompressedRequest / CompressedResponse):
// * expect_compressed (UnaryCall, and each StreamingInputCall message): when it is true, the
//   compressed flag the request message actually arrived with, read where grpc-js reads it
//   (internals.js; grpc-js has no public API for it), must be set, or the call ends with
//   INVALID_ARGUMENT. As the standard's CompressedRequest feature says, `false` is not
//   checked: clients that compress per call (grpcio, rgrpc) send the standard's
//   "uncompressed" second message of client_compressed_streaming compressed too.
// * response_compressed (UnaryCall) and ResponseParameters.compressed (StreamingOutputCall)
//   cannot be honoured: the grpc-js 1.14 server never compresses a response. It always
//   sends `grpc-encoding: identity` and writes every message with the compressed flag 0
//   (server-interceptors.js serializeMessage: "response compression is currently not
//   supported"), and it offers no per-call or per-message option to change that. This
//   server therefore answers such requests uncompressed, as a server without the
//   CompressedResponse feature does; a client that checks the flag (as the standard's
//   server_compressed_* cases say it MUST) fails against it. The matrix lists that as a
//   known limitation of this peer.

const fs = require('fs');
const {
  loadGrpc, loadTesting, parseFlags, zeros,
} = require('./common');
const { installServerHooks } = require('./internals');

const TOOL = 'interop_server';
const ECHO_INITIAL_KEY = 'x-grpc-test-echo-initial';
const ECHO_TRAILING_KEY = 'x-grpc-test-echo-trailing-bin';
const SLEEP_KEY = 'x-interop-sleep-ms';
const DEADLINE_EPSILON_MS = 50;
const SHUTDOWN_GRACE_MS = 1000;

const USAGE = 'usage: interop_server.js --port N [--observations FILE]';

function usage(problem) {
  if (problem) {
    process.stderr.write(`${TOOL}: ${problem}\n${USAGE}\n`);
    process.exit(2);
  }
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

/** Appends one JSON line per finished RPC to a file (or discards). */
class ObservationLog {
  constructor(file) {
    this.fd = file ? fs.openSync(file, 'a') : null;
  }

  record(method, outcome) {
    if (this.fd === null) {
      return;
    }
    // One write(2) per line, synchronously: a line is complete once it is in the file.
    // The same layout as Python's json.dumps: {"method": "...", "outcome": "..."}.
    const line = `{"method": ${JSON.stringify(method)}, "outcome": ${JSON.stringify(outcome)}}\n`;
    fs.writeSync(this.fd, line);
  }

  close() {
    if (this.fd !== null) {
      fs.closeSync(this.fd);
      this.fd = null;
    }
  }
}

function deadlineMs(call) {
  const deadline = call.getDeadline();
  if (deadline instanceof Date) {
    return deadline.getTime();
  }
  return typeof deadline === 'number' ? deadline : Infinity;
}

/**
 * Tracks how one RPC ended; records exactly one observation line.
 *
 * grpc-js emits 'cancelled' on the handler's call object once the call is over on its side:
 * after it sent a status (the handler's own, or DEADLINE_EXCEEDED from its own deadline
 * timer), or when the HTTP/2 stream closed under it (RST_STREAM from the client, a dropped
 * connection). If by then the handler had finished and grpc-js did send the handler's
 * status, the outcome is the handler's (ok / error). Otherwise the call was terminated
 * under it: deadline_exceeded when the deadline has (about) passed, cancelled otherwise.
 *
 * "Did send" matters: on a client's RST_STREAM, Node's http2 ends the request stream
 * first, so grpc-js hands the handler a half-close before 'cancelled', and a handler that
 * answers then has its status dropped (see internals.js). If the HTTP/2 stream cannot be
 * reached (another grpc-js), the handler having finished first is taken as the answer.
 */
class RpcObservation {
  constructor(log, method, call, statusSent) {
    this.log = log;
    this.method = method;
    this.call = call;
    this.statusSent = statusSent;
    this.finished = false;
    this.code = null;
    this.recorded = false;
    if (call.cancelled) {
      process.nextTick(() => this.terminated());
    } else {
      call.once('cancelled', () => this.terminated());
    }
  }

  /** The handler answered with status `code` (0 = OK). */
  handlerDone(code) {
    if (!this.call.cancelled && !this.recorded) {
      this.finished = true;
      this.code = code;
    }
  }

  terminated() {
    if (this.recorded) {
      return;
    }
    this.recorded = true;
    const sent = this.statusSent(this.call);
    let outcome;
    if (this.finished && (sent === null || sent === this.code)) {
      outcome = this.code === 0 ? 'ok' : 'error';
    } else if (deadlineMs(this.call) - Date.now() <= DEADLINE_EPSILON_MS) {
      outcome = 'deadline_exceeded';
    } else {
      outcome = 'cancelled';
    }
    this.log.record(this.method, outcome);
  }
}

/** Sleeps up to `ms`; resolves false early once the RPC is over (cancelled, deadline). */
function sleepWhileActive(call, ms) {
  if (call.cancelled) {
    return Promise.resolve(false);
  }
  if (!(ms > 0)) {
    return Promise.resolve(true);
  }
  return new Promise((resolve) => {
    const onCancel = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      call.removeListener('cancelled', onCancel);
      resolve(!call.cancelled);
    }, ms);
    call.once('cancelled', onCancel);
  });
}

/**
 * Reads the request messages of a client-streaming or bidi call in order. Unlike the
 * stream's async iterator, stopping early does not destroy the call's stream (which would
 * keep grpc-js from ever sending the status the handler then chooses).
 */
class RequestReader {
  constructor(call) {
    this.queue = [];
    this.waiting = null;
    this.end = null;
    call.on('data', (message) => this.deliver({ value: message }));
    call.on('end', () => this.finish({ done: true }));
    call.once('cancelled', () => this.finish({ cancelled: true }));
    call.once('close', () => this.finish({ cancelled: true }));
    if (call.cancelled) {
      this.finish({ cancelled: true });
    }
  }

  deliver(item) {
    if (this.end) {
      return;
    }
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      resolve(item);
    } else {
      this.queue.push(item);
    }
  }

  finish(item) {
    if (this.end) {
      return;
    }
    this.end = item;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      resolve(item);
    }
  }

  /** Resolves to {value}, {done: true} (half-close) or {cancelled: true}. */
  next() {
    if (this.queue.length > 0) {
      return Promise.resolve(this.queue.shift());
    }
    if (this.end) {
      return Promise.resolve(this.end);
    }
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }
}

function metadataValue(call, key) {
  const values = call.metadata.get(key);
  return values.length > 0 ? values[0] : undefined;
}

/** Handles x-interop-sleep-ms; resolves false if the RPC ended meanwhile. */
function requestedSleep(call) {
  const value = metadataValue(call, SLEEP_KEY);
  if (value === undefined) {
    return Promise.resolve(true);
  }
  const ms = Number.parseInt(String(value), 10);
  if (Number.isNaN(ms)) {
    return Promise.resolve(true);
  }
  return sleepWhileActive(call, Math.max(ms, 0));
}

function isSet(field) {
  return field !== undefined && field !== null;
}

function requestedStatus(status) {
  return isSet(status) && (status.code | 0) !== 0 ? status : null;
}

function makeServer(grpc, testing, log, wire) {
  function payload(size) {
    return { type: 'COMPRESSABLE', body: zeros(Math.max(size | 0, 0)) };
  }

  function payloadSize(request) {
    return request.payload && request.payload.body ? request.payload.body.length : 0;
  }

  /** Echoes x-grpc-test-echo-initial now; returns the trailing metadata to end with. */
  function echoMetadata(call) {
    const initial = metadataValue(call, ECHO_INITIAL_KEY);
    if (initial !== undefined) {
      const md = new grpc.Metadata();
      md.set(ECHO_INITIAL_KEY, initial);
      call.sendMetadata(md);
    }
    const trailing = new grpc.Metadata();
    const value = metadataValue(call, ECHO_TRAILING_KEY);
    if (value !== undefined) {
      trailing.set(ECHO_TRAILING_KEY, value);
    }
    return trailing;
  }

  /** An EchoStatus as the error grpc-js sends (code, message, trailing metadata). */
  function statusError(status, trailing) {
    return { code: status.code | 0, details: status.message || '', metadata: trailing };
  }

  /** INVALID_ARGUMENT if `request` expects to have arrived compressed and did not. */
  function compressionMismatch(request, trailing) {
    if (!isSet(request.expect_compressed) || !request.expect_compressed.value) {
      return null;
    }
    const expected = true;
    const arrived = wire.wasCompressed(request);
    if (arrived === expected) {
      return null;
    }
    const how = arrived === undefined ? 'with an unknown compressed flag' : (arrived ? 'compressed' : 'uncompressed');
    return {
      code: grpc.status.INVALID_ARGUMENT,
      details: `expect_compressed is ${expected} but the request message arrived ${how}`,
      metadata: trailing,
    };
  }

  /** Wraps an async handler body so that its end is observed; body returns an error or null. */
  function unaryObserved(method, body) {
    return (call, callback) => {
      const obs = new RpcObservation(log, method, call, wire.statusSent);
      body(call).then(
        ({ error, response, trailing }) => {
          obs.handlerDone(error ? error.code : 0);
          if (error) {
            callback(error);
          } else {
            callback(null, response, trailing);
          }
        },
        (err) => {
          obs.handlerDone(grpc.status.UNKNOWN);
          callback({ code: grpc.status.UNKNOWN, details: String(err && err.message) });
        },
      );
    };
  }

  /** For response-streaming handlers: body(call) resolves to {error, trailing, done}. */
  function streamObserved(method, body) {
    return (call) => {
      const obs = new RpcObservation(log, method, call, wire.statusSent);
      body(call).then(
        ({ error, trailing, done }) => {
          if (!done) {
            return; // the call ended under the handler; nothing left to send
          }
          obs.handlerDone(error ? error.code : 0);
          if (error) {
            call.emit('error', error);
          } else {
            call.end(trailing);
          }
        },
        (err) => {
          obs.handlerDone(grpc.status.UNKNOWN);
          call.emit('error', { code: grpc.status.UNKNOWN, details: String(err && err.message) });
        },
      );
    };
  }

  /** Writes one response per ResponseParameters; false if the RPC went inactive. */
  async function streamResponses(call, request) {
    for (const params of request.response_parameters || []) {
      if (!(await sleepWhileActive(call, (params.interval_us | 0) / 1000))) {
        return false;
      }
      if (call.cancelled) {
        return false;
      }
      // params.compressed cannot be honoured by grpc-js (see the top of this file).
      call.write({ payload: payload(params.size) });
    }
    return true;
  }

  async function unary(call) {
    const trailing = echoMetadata(call);
    if (!(await requestedSleep(call))) {
      return { response: {}, trailing };
    }
    const request = call.request;
    const mismatch = compressionMismatch(request, trailing);
    if (mismatch) {
      return { error: mismatch };
    }
    const status = requestedStatus(request.response_status);
    if (status) {
      return { error: statusError(status, trailing) };
    }
    // request.response_compressed cannot be honoured by grpc-js (see the top of this file).
    return { response: { payload: payload(request.response_size) }, trailing };
  }

  const service = {
    EmptyCall: unaryObserved('EmptyCall', async (call) => {
      const trailing = echoMetadata(call);
      await requestedSleep(call);
      return { response: {}, trailing };
    }),

    UnaryCall: unaryObserved('UnaryCall', unary),

    CacheableUnaryCall: unaryObserved('CacheableUnaryCall', unary),

    StreamingOutputCall: streamObserved('StreamingOutputCall', async (call) => {
      const trailing = echoMetadata(call);
      if (!(await requestedSleep(call))) {
        return { done: false };
      }
      const request = call.request;
      if (!(await streamResponses(call, request))) {
        return { done: false };
      }
      const status = requestedStatus(request.response_status);
      if (status) {
        return { done: true, error: statusError(status, trailing) };
      }
      return { done: true, trailing };
    }),

    StreamingInputCall: unaryObserved('StreamingInputCall', async (call) => {
      const trailing = echoMetadata(call);
      const reader = new RequestReader(call);
      let total = 0;
      for (;;) {
        const item = await reader.next();
        if (item.cancelled) {
          return { response: {}, trailing }; // the call is over; grpc-js drops this answer
        }
        if (item.done) {
          break;
        }
        const mismatch = compressionMismatch(item.value, trailing);
        if (mismatch) {
          return { error: mismatch };
        }
        total += payloadSize(item.value);
      }
      await requestedSleep(call);
      return { response: { aggregated_payload_size: total }, trailing };
    }),

    FullDuplexCall: streamObserved('FullDuplexCall', async (call) => {
      const trailing = echoMetadata(call);
      if (!(await requestedSleep(call))) {
        return { done: false };
      }
      const reader = new RequestReader(call);
      for (;;) {
        const item = await reader.next();
        if (item.cancelled) {
          return { done: false };
        }
        if (item.done) {
          break;
        }
        const status = requestedStatus(item.value.response_status);
        if (status) {
          return { done: true, error: statusError(status, trailing) };
        }
        if (!(await streamResponses(call, item.value))) {
          return { done: false };
        }
      }
      return { done: !call.cancelled, trailing };
    }),

    HalfDuplexCall: streamObserved('HalfDuplexCall', async (call) => {
      const trailing = echoMetadata(call);
      const reader = new RequestReader(call);
      const requests = [];
      for (;;) {
        const item = await reader.next();
        if (item.cancelled) {
          return { done: false };
        }
        if (item.done) {
          break;
        }
        requests.push(item.value);
      }
      if (!(await requestedSleep(call))) {
        return { done: false };
      }
      for (const request of requests) {
        const status = requestedStatus(request.response_status);
        if (status) {
          return { done: true, error: statusError(status, trailing) };
        }
        if (!(await streamResponses(call, request))) {
          return { done: false };
        }
      }
      return { done: !call.cancelled, trailing };
    }),

    UnimplementedCall: unaryObserved('UnimplementedCall', async () => ({
      error: { code: grpc.status.UNIMPLEMENTED, details: 'UnimplementedCall is not implemented' },
    })),
  };

  const server = new grpc.Server({ interceptors: [wire.interceptor] });
  server.addService(testing.TestService.service, service);
  return server;
}

function main() {
  const flags = parseFlags(process.argv.slice(2), { port: undefined, observations: '' }, usage);
  const port = Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    usage(`--port must be 0-65535, got ${JSON.stringify(flags.port)}`);
  }
  const { grpc, protoLoader } = loadGrpc(TOOL);
  const testing = loadTesting(TOOL, grpc, protoLoader);
  let wire;
  try {
    wire = installServerHooks(grpc);
  } catch (err) {
    process.stderr.write(`${TOOL}: ${err.message}\n`);
    process.exit(2);
  }
  const log = new ObservationLog(flags.observations || null);
  const server = makeServer(grpc, testing, log, wire);

  server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
    if (err) {
      process.stderr.write(`${TOOL}: cannot listen on 127.0.0.1:${port}: ${err.message}\n`);
      process.exit(1);
    }
    process.stdout.write(`listening on 127.0.0.1:${bound}\n`);
  });

  let stopping = false;
  const stop = () => {
    if (stopping) {
      return;
    }
    stopping = true;
    const force = setTimeout(() => server.forceShutdown(), SHUTDOWN_GRACE_MS);
    server.tryShutdown(() => {
      clearTimeout(force);
      log.close();
      process.exit(0);
    });
    // Bounded: whatever is left after the grace period and 5 s more, exit anyway.
    setTimeout(() => {
      log.close();
      process.exit(0);
    }, SHUTDOWN_GRACE_MS + 5000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();

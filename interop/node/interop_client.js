#!/usr/bin/env node
'use strict';
// @grpc/grpc-js interop client for the rgrpc interop harness: the same command line and
// output as interop/python/interop_client.py.
//
// Usage:
//     node interop_client.js --server_host H --server_port P --test_case CASES [--timeout S]
//
// CASES is one case name, a comma-separated list, or `all`. Prints one line per case,
// `PASS <case>` or `FAIL <case>: <reason>`, in the order given. Exit code: 0 all passed,
// 1 some failed, 2 usage error (e.g. unknown case).
//
// The cases follow grpc/grpc doc/interop-test-descriptions.md, with the same semantics as
// the Python client; timeout_on_sleeping_server also checks the rgrpc extension header
// `x-interop-sleep-ms` (a server that ignores it fails that case).
//
// Compression cases, exactly as the standard describes them:
// * The client compresses with grpc-js's own machinery: a second channel created with the
//   option `grpc.default_compression_algorithm: gzip` (grpc-js has no per-call
//   compression option; the channel option applies to every call on that channel), and
//   the per-message write flag NoCompress (2, call-interface.ts WriteFlags) to send one
//   message of a compressed stream uncompressed.
// * What went over the wire is checked too: grpc-js exposes no message flags, so
//   internals.js records the compressed flag of every message grpc-js framed or deframed.
//   The client_compressed_* cases fail with a clear reason if grpc-js did not compress
//   what it was asked to (for instance because the server's grpc-accept-encoding did not
//   list gzip, which makes grpc-js fall back to identity), and the server_compressed_*
//   cases check the flag of each response as the standard says they MUST.

const {
  loadGrpc, loadTesting, parseFlags, codeName, zeros, oneLine,
} = require('./common');
const { installClientRecorder } = require('./internals');

const TOOL = 'interop_client';
const ECHO_INITIAL_KEY = 'x-grpc-test-echo-initial';
const ECHO_INITIAL_VALUE = 'test_initial_metadata_value';
const ECHO_TRAILING_KEY = 'x-grpc-test-echo-trailing-bin';
const ECHO_TRAILING_VALUE = Buffer.from([0xab, 0xab, 0xab]);
const SPECIAL_MESSAGE = '\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \u{1f608}\t\n';
/** grpc-js WriteFlags.NoCompress (a const enum, so not exported at run time). */
const WRITE_NO_COMPRESS = 2;
/** Lets a call reach the server before it is cancelled, so the server sees it too. */
const REACH_SERVER_MS = 200;

const CASE_NAMES = [
  'empty_unary',
  'large_unary',
  'client_streaming',
  'server_streaming',
  'ping_pong',
  'empty_stream',
  'custom_metadata',
  'status_code_and_message',
  'special_status_message',
  'unimplemented_method',
  'unimplemented_service',
  'timeout_on_sleeping_server',
  'cancel_after_begin',
  'cancel_after_first_response',
  'client_compressed_unary',
  'client_compressed_streaming',
  'server_compressed_unary',
  'server_compressed_streaming',
];

class CaseFailure extends Error {}

function check(condition, reason) {
  if (!condition) {
    throw new CaseFailure(reason);
  }
}

/**
 * Reads a response stream in order. next() resolves to {value}, or at the end to
 * {status} (the final status, OK or not) once grpc-js delivered every message before it.
 * Every wait is bounded by `limitMs`.
 */
class ResponseReader {
  constructor(call, limitMs) {
    this.queue = [];
    this.status = null;
    this.ended = false;
    this.waiting = null;
    this.limitMs = limitMs;
    this.initial = null;
    call.on('metadata', (md) => {
      this.initial = md;
    });
    call.on('data', (message) => {
      this.queue.push(message);
      this.wake();
    });
    call.on('error', () => {}); // the status says it all
    call.on('status', (status) => {
      this.status = status;
      this.wake();
    });
    call.on('end', () => {
      this.ended = true;
      this.wake();
    });
    call.on('close', () => {
      this.ended = true;
      this.wake();
    });
  }

  wake() {
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      resolve();
    }
  }

  ready() {
    return this.queue.length > 0 || (this.status !== null && this.ended);
  }

  async next() {
    const until = Date.now() + this.limitMs;
    while (!this.ready()) {
      const left = until - Date.now();
      if (left <= 0) {
        throw new CaseFailure(`no response or status within ${this.limitMs} ms`);
      }
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiting = null;
    }
    if (this.queue.length > 0) {
      return { value: this.queue.shift() };
    }
    return { status: this.status };
  }

  /** Reads to the end: {responses, status}. */
  async rest() {
    const responses = [];
    for (;;) {
      const item = await this.next();
      if (item.status) {
        return { responses, status: item.status };
      }
      responses.push(item.value);
    }
  }
}

class Cases {
  constructor(grpc, testing, target, timeoutMs, recorder) {
    this.grpc = grpc;
    this.timeoutMs = timeoutMs;
    this.recorder = recorder;
    const credentials = grpc.credentials.createInsecure();
    this.channel = new grpc.Channel(target, credentials, {});
    // A second channel that gzips every request message (unless a write says NoCompress).
    this.gzipChannel = new grpc.Channel(target, credentials, {
      'grpc.default_compression_algorithm': grpc.compressionAlgorithms.gzip,
    });
    this.stub = new testing.TestService(target, credentials, { channelOverride: this.channel });
    this.gzipStub = new testing.TestService(target, credentials, { channelOverride: this.gzipChannel });
    this.unimplementedStub = new testing.UnimplementedService(target, credentials, {
      channelOverride: this.channel,
    });
  }

  close() {
    this.channel.close();
    this.gzipChannel.close();
  }

  waitForReady(ms) {
    return new Promise((resolve) => {
      this.stub.waitForReady(Date.now() + ms, () => resolve());
    });
  }

  // helpers ---------------------------------------------------------------

  deadline(ms) {
    return { deadline: Date.now() + (ms === undefined ? this.timeoutMs : ms) };
  }

  payload(size) {
    return { type: 'COMPRESSABLE', body: zeros(size) };
  }

  streamingRequest(responseSize, payloadSize) {
    return {
      response_type: 'COMPRESSABLE',
      response_parameters: [{ size: responseSize }],
      payload: this.payload(payloadSize),
    };
  }

  checkPayload(payload, size, what) {
    const body = payload && payload.body ? Buffer.from(payload.body) : Buffer.alloc(0);
    check(body.length === size, `${what}: payload of ${body.length} bytes, want ${size}`);
    check(body.every((b) => b === 0), `${what}: payload is not all zero bytes`);
  }

  metadata(pairs) {
    const md = new this.grpc.Metadata();
    for (const [key, value] of pairs || []) {
      md.set(key, value);
    }
    return md;
  }

  /** A unary call: resolves to {err, response, initial, status}. */
  unary(stub, method, request, { metadata, timeoutMs } = {}) {
    return new Promise((resolve) => {
      const result = { err: null, response: null, initial: null, status: null };
      const call = stub[method](request, metadata || new this.grpc.Metadata(), this.deadline(timeoutMs),
        (err, response) => {
          result.err = err || null;
          result.response = response || null;
        });
      call.on('metadata', (md) => {
        result.initial = md;
      });
      call.on('status', (status) => {
        result.status = status;
        resolve(result);
      });
    });
  }

  /** A client-streaming call: writes [message, flags] pairs, half-closes, resolves like unary. */
  clientStream(stub, method, writes, { metadata, timeoutMs } = {}) {
    return new Promise((resolve) => {
      const result = { err: null, response: null, initial: null, status: null };
      const call = stub[method](metadata || new this.grpc.Metadata(), this.deadline(timeoutMs),
        (err, response) => {
          result.err = err || null;
          result.response = response || null;
        });
      call.on('error', () => {});
      call.on('metadata', (md) => {
        result.initial = md;
      });
      call.on('status', (status) => {
        result.status = status;
        resolve(result);
      });
      for (const [message, flags] of writes) {
        if (flags === undefined) {
          call.write(message);
        } else {
          call.write(message, flags);
        }
      }
      call.end();
    });
  }

  codeName(code) {
    return codeName(this.grpc, code);
  }

  /** Fails unless `result` (a status or an error) has `code` (and `message`, if given). */
  expectStatus(result, code, what, message) {
    check(result && result.code !== undefined, `${what}: no status`);
    check(result.code === code, `${what}: status ${this.codeName(result.code)} (${JSON.stringify(result.details)}), ` +
      `want ${this.codeName(code)}`);
    if (message !== undefined) {
      check(result.details === message,
        `${what}: status message ${JSON.stringify(result.details)}, want ${JSON.stringify(message)}`);
    }
  }

  expectOk(result, what) {
    if (result.err) {
      throw new CaseFailure(`${what}: status ${this.codeName(result.err.code)}: ${result.err.details}`);
    }
  }

  /** Runs fn() while recording the wire's compressed flags; returns [result, flags]. */
  async withWire(fn) {
    this.recorder.start();
    try {
      const result = await fn();
      return [result, this.recorder.stop()];
    } finally {
      this.recorder.stop();
    }
  }

  // cases -----------------------------------------------------------------

  async empty_unary() {
    const result = await this.unary(this.stub, 'EmptyCall', {});
    this.expectOk(result, 'EmptyCall');
    check(result.response !== null && typeof result.response === 'object',
      `response is not Empty: ${JSON.stringify(result.response)}`);
  }

  async large_unary() {
    const result = await this.unary(this.stub, 'UnaryCall', {
      response_type: 'COMPRESSABLE', response_size: 314159, payload: this.payload(271828),
    });
    this.expectOk(result, 'UnaryCall');
    this.checkPayload(result.response.payload, 314159, 'response');
  }

  async client_streaming() {
    const sizes = [27182, 8, 1828, 45904];
    const result = await this.clientStream(this.stub, 'StreamingInputCall',
      sizes.map((size) => [{ payload: this.payload(size) }]));
    this.expectOk(result, 'StreamingInputCall');
    const got = result.response.aggregated_payload_size;
    check(got === 74922, `aggregated_payload_size ${got}, want 74922`);
  }

  async server_streaming() {
    const sizes = [31415, 9, 2653, 58979];
    const call = this.stub.StreamingOutputCall({
      response_type: 'COMPRESSABLE',
      response_parameters: sizes.map((size) => ({ size })),
    }, new this.grpc.Metadata(), this.deadline());
    const { responses, status } = await new ResponseReader(call, this.timeoutMs + 5000).rest();
    this.expectStatus(status, this.grpc.status.OK, 'StreamingOutputCall');
    check(responses.length === sizes.length, `${responses.length} responses, want ${sizes.length}`);
    responses.forEach((response, i) => this.checkPayload(response.payload, sizes[i], `response ${i}`));
  }

  async ping_pong() {
    const pairs = [[31415, 27182], [9, 8], [2653, 1828], [58979, 45904]];
    const call = this.stub.FullDuplexCall(new this.grpc.Metadata(), this.deadline());
    const reader = new ResponseReader(call, this.timeoutMs + 5000);
    try {
      for (const [i, [responseSize, payloadSize]] of pairs.entries()) {
        call.write(this.streamingRequest(responseSize, payloadSize));
        const item = await reader.next();
        if (item.status) {
          throw new CaseFailure(`stream ended before response ${i}: status ${this.codeName(item.status.code)}: ` +
            `${item.status.details}`);
        }
        this.checkPayload(item.value.payload, responseSize, `response ${i}`);
      }
      call.end();
      const { responses, status } = await reader.rest();
      check(responses.length === 0, `${responses.length} unexpected extra responses`);
      this.expectStatus(status, this.grpc.status.OK, 'FullDuplexCall');
    } finally {
      call.cancel();
    }
  }

  async empty_stream() {
    const call = this.stub.FullDuplexCall(new this.grpc.Metadata(), this.deadline());
    const reader = new ResponseReader(call, this.timeoutMs + 5000);
    call.end();
    const { responses, status } = await reader.rest();
    check(responses.length === 0, `${responses.length} responses, want none`);
    this.expectStatus(status, this.grpc.status.OK, 'FullDuplexCall');
  }

  checkEcho(initial, trailing, what) {
    const initialValues = initial ? initial.get(ECHO_INITIAL_KEY) : [];
    check(initialValues.length === 1 && initialValues[0] === ECHO_INITIAL_VALUE,
      `${what}: initial metadata ${JSON.stringify(initial ? initial.toJSON() : null)} lacks ` +
      `${ECHO_INITIAL_KEY}: ${ECHO_INITIAL_VALUE}`);
    const trailingValues = trailing ? trailing.get(ECHO_TRAILING_KEY) : [];
    check(trailingValues.length === 1 && Buffer.isBuffer(trailingValues[0]) &&
      trailingValues[0].equals(ECHO_TRAILING_VALUE),
    `${what}: trailing metadata ${JSON.stringify(trailing ? trailing.toJSON() : null)} lacks ` +
      `${ECHO_TRAILING_KEY}: ababab`);
  }

  async custom_metadata() {
    const pairs = [[ECHO_INITIAL_KEY, ECHO_INITIAL_VALUE], [ECHO_TRAILING_KEY, ECHO_TRAILING_VALUE]];
    const result = await this.unary(this.stub, 'UnaryCall', {
      response_type: 'COMPRESSABLE', response_size: 314159, payload: this.payload(271828),
    }, { metadata: this.metadata(pairs) });
    this.expectOk(result, 'UnaryCall');
    this.checkPayload(result.response.payload, 314159, 'UnaryCall response');
    this.checkEcho(result.initial, result.status.metadata, 'UnaryCall');

    const call = this.stub.FullDuplexCall(this.metadata(pairs), this.deadline());
    const reader = new ResponseReader(call, this.timeoutMs + 5000);
    try {
      call.write(this.streamingRequest(314159, 271828));
      const item = await reader.next();
      check(!item.status, 'FullDuplexCall: stream ended without a response');
      this.checkPayload(item.value.payload, 314159, 'FullDuplexCall response');
      call.end();
      const { responses, status } = await reader.rest();
      check(responses.length === 0, `FullDuplexCall: ${responses.length} unexpected extra responses`);
      this.expectStatus(status, this.grpc.status.OK, 'FullDuplexCall');
      this.checkEcho(reader.initial, status.metadata, 'FullDuplexCall');
    } finally {
      call.cancel();
    }
  }

  async statusViaBoth(code, message, unaryOnly) {
    const status = { code, message };
    const result = await this.unary(this.stub, 'UnaryCall', { response_status: status });
    check(result.err !== null, `UnaryCall succeeded, want status ${code}`);
    this.expectStatus(result.err, this.grpc.status.UNKNOWN, 'UnaryCall', message);
    if (unaryOnly) {
      return;
    }
    const call = this.stub.FullDuplexCall(new this.grpc.Metadata(), this.deadline());
    const reader = new ResponseReader(call, this.timeoutMs + 5000);
    call.write({ response_status: status });
    call.end();
    const end = await reader.rest();
    check(end.status.code !== this.grpc.status.OK,
      `FullDuplexCall ended OK with ${end.responses.length} responses, want status ${code}`);
    this.expectStatus(end.status, this.grpc.status.UNKNOWN, 'FullDuplexCall', message);
  }

  async status_code_and_message() {
    await this.statusViaBoth(2, 'test status message', false);
  }

  async special_status_message() {
    await this.statusViaBoth(2, SPECIAL_MESSAGE, true);
  }

  async unimplemented_method() {
    const result = await this.unary(this.stub, 'UnimplementedCall', {});
    check(result.err !== null, 'call succeeded, want UNIMPLEMENTED');
    this.expectStatus(result.err, this.grpc.status.UNIMPLEMENTED, 'UnimplementedCall');
  }

  async unimplemented_service() {
    const result = await this.unary(this.unimplementedStub, 'UnimplementedCall', {});
    check(result.err !== null, 'call succeeded, want UNIMPLEMENTED');
    this.expectStatus(result.err, this.grpc.status.UNIMPLEMENTED, 'UnimplementedService');
  }

  async timeout_on_sleeping_server() {
    const call = this.stub.FullDuplexCall(new this.grpc.Metadata(), this.deadline(1));
    const reader = new ResponseReader(call, this.timeoutMs + 5000);
    call.write({ payload: this.payload(27182) });
    const { responses, status } = await reader.rest();
    check(status.code !== this.grpc.status.OK, `FullDuplexCall ended OK with ${responses.length} responses`);
    this.expectStatus(status, this.grpc.status.DEADLINE_EXCEEDED, 'FullDuplexCall');

    // rgrpc extension: the server sleeps 20 s on x-interop-sleep-ms (less if the call ends).
    // Not a speed check: a client that waited for the answer would take the full 20 s.
    const start = Date.now();
    const result = await this.unary(this.stub, 'UnaryCall', {},
      { metadata: this.metadata([['x-interop-sleep-ms', '20000']]), timeoutMs: 100 });
    check(result.err !== null, 'sleeping UnaryCall succeeded, want DEADLINE_EXCEEDED');
    this.expectStatus(result.err, this.grpc.status.DEADLINE_EXCEEDED, 'sleeping UnaryCall');
    const elapsed = (Date.now() - start) / 1000;
    check(elapsed < 10.0, `sleeping UnaryCall took ${elapsed.toFixed(2)}s to fail: it waited for the server`);
  }

  async cancel_after_begin() {
    const result = await new Promise((resolve) => {
      const call = this.stub.StreamingInputCall(new this.grpc.Metadata(), this.deadline(),
        (err, response) => resolve({ err, response }));
      call.on('error', () => {});
      // Never sends anything; cancelled once the call had time to reach the server, so that
      // the server sees the cancellation too.
      setTimeout(() => call.cancel(), REACH_SERVER_MS);
    });
    check(result.err, `call succeeded (${JSON.stringify(result.response)}), want CANCELLED`);
    this.expectStatus(result.err, this.grpc.status.CANCELLED, 'StreamingInputCall');
  }

  async cancel_after_first_response() {
    const call = this.stub.FullDuplexCall(new this.grpc.Metadata(), this.deadline());
    const reader = new ResponseReader(call, this.timeoutMs + 5000);
    try {
      call.write(this.streamingRequest(31415, 27182));
      const item = await reader.next();
      check(!item.status, 'stream ended without a response');
      this.checkPayload(item.value.payload, 31415, 'response');
      call.cancel();
      const after = await reader.next();
      check(!after.value, 'read a response after cancel');
      this.expectStatus(after.status, this.grpc.status.CANCELLED, 'read after cancel');
    } finally {
      call.cancel();
    }
  }

  /** What grpc-js did with the compressed flag, for failure reasons. */
  describeWire(wire) {
    return `grpc-js sent compressed=${JSON.stringify(wire.sent)}, received compressed=` +
      `${JSON.stringify(wire.received)}, response grpc-encoding ${JSON.stringify(wire.receivedEncoding)}`;
  }

  async client_compressed_unary() {
    const request = (expect) => ({
      expect_compressed: { value: expect },
      response_type: 'COMPRESSABLE',
      response_size: 314159,
      payload: this.payload(271828),
    });
    // 1. The feature probe: an uncompressed message that says it is compressed.
    let [result, wire] = await this.withWire(() => this.unary(this.stub, 'UnaryCall', request(true)));
    check(wire.sent.length === 1 && wire.sent[0] === false, `probe: ${this.describeWire(wire)}, want [false]`);
    check(result.err !== null, 'probe (uncompressed, expect_compressed=true) succeeded, want INVALID_ARGUMENT');
    this.expectStatus(result.err, this.grpc.status.INVALID_ARGUMENT, 'probe (uncompressed, expect_compressed=true)');
    // 2. A compressed message.
    [result, wire] = await this.withWire(() => this.unary(this.gzipStub, 'UnaryCall', request(true)));
    if (result.err) {
      throw new CaseFailure(`compressed UnaryCall: status ${this.codeName(result.err.code)}: ` +
        `${result.err.details} (${this.describeWire(wire)})`);
    }
    check(wire.sent.length === 1 && wire.sent[0] === true,
      `compressed UnaryCall: ${this.describeWire(wire)}, want sent [true]`);
    this.checkPayload(result.response.payload, 314159, 'compressed UnaryCall response');
    // 3. An uncompressed message.
    [result, wire] = await this.withWire(() => this.unary(this.stub, 'UnaryCall', request(false)));
    this.expectOk(result, 'uncompressed UnaryCall');
    check(wire.sent.length === 1 && wire.sent[0] === false,
      `uncompressed UnaryCall: ${this.describeWire(wire)}, want sent [false]`);
    this.checkPayload(result.response.payload, 314159, 'uncompressed UnaryCall response');
  }

  async client_compressed_streaming() {
    // 1. The feature probe: one uncompressed message that says it is compressed.
    let [result, wire] = await this.withWire(() => this.clientStream(this.stub, 'StreamingInputCall', [
      [{ expect_compressed: { value: true }, payload: this.payload(27182) }],
    ]));
    check(result.err !== null, 'probe (uncompressed, expect_compressed=true) succeeded, want INVALID_ARGUMENT');
    this.expectStatus(result.err, this.grpc.status.INVALID_ARGUMENT, 'probe (uncompressed, expect_compressed=true)');
    // 2. One compressed message, then one uncompressed, on a gzip call.
    [result, wire] = await this.withWire(() => this.clientStream(this.gzipStub, 'StreamingInputCall', [
      [{ expect_compressed: { value: true }, payload: this.payload(27182) }],
      [{ expect_compressed: { value: false }, payload: this.payload(45904) }, WRITE_NO_COMPRESS],
    ]));
    if (result.err) {
      throw new CaseFailure(`StreamingInputCall: status ${this.codeName(result.err.code)}: ` +
        `${result.err.details} (${this.describeWire(wire)})`);
    }
    check(JSON.stringify(wire.sent) === '[true,false]',
      `StreamingInputCall: ${this.describeWire(wire)}, want sent [true,false]`);
    const got = result.response.aggregated_payload_size;
    check(got === 73086, `aggregated_payload_size ${got}, want 73086`);
  }

  async server_compressed_unary() {
    for (const compressed of [true, false]) {
      const [result, wire] = await this.withWire(() => this.unary(this.stub, 'UnaryCall', {
        response_compressed: { value: compressed },
        response_type: 'COMPRESSABLE',
        response_size: 314159,
        payload: this.payload(271828),
      }));
      const what = `UnaryCall (response_compressed=${compressed})`;
      this.expectOk(result, what);
      this.checkPayload(result.response.payload, 314159, `${what} response`);
      check(wire.received.length === 1 && wire.received[0] === compressed,
        `${what}: response compressed flag ${JSON.stringify(wire.received)}, want [${compressed}] ` +
        `(response grpc-encoding ${JSON.stringify(wire.receivedEncoding)})`);
    }
  }

  async server_compressed_streaming() {
    const [{ responses, status }, wire] = await this.withWire(() => {
      const call = this.stub.StreamingOutputCall({
        response_type: 'COMPRESSABLE',
        response_parameters: [
          { compressed: { value: true }, size: 31415 },
          { compressed: { value: false }, size: 92653 },
        ],
      }, new this.grpc.Metadata(), this.deadline());
      return new ResponseReader(call, this.timeoutMs + 5000).rest();
    });
    this.expectStatus(status, this.grpc.status.OK, 'StreamingOutputCall');
    check(responses.length === 2, `${responses.length} responses, want 2`);
    this.checkPayload(responses[0].payload, 31415, 'response 0');
    this.checkPayload(responses[1].payload, 92653, 'response 1');
    check(JSON.stringify(wire.received) === '[true,false]',
      `response compressed flags ${JSON.stringify(wire.received)}, want [true,false] ` +
      `(response grpc-encoding ${JSON.stringify(wire.receivedEncoding)})`);
  }
}

const USAGE = 'usage: interop_client.js --server_host H --server_port P --test_case CASE[,CASE...]|all ' +
  '[--timeout SECONDS]';

function usage(problem) {
  if (problem) {
    process.stderr.write(`${TOOL}: ${problem}\n${USAGE}\n`);
    process.exit(2);
  }
  process.stdout.write(`${USAGE}\ncases: ${CASE_NAMES.join(', ')}, all\n`);
  process.exit(0);
}

async function main() {
  const flags = parseFlags(process.argv.slice(2), {
    server_host: '127.0.0.1', server_port: undefined, test_case: 'all', timeout: '20',
  }, usage);
  const port = Number(flags.server_port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    usage(`--server_port must be 1-65535, got ${JSON.stringify(flags.server_port)}`);
  }
  const timeoutS = Number(flags.timeout);
  if (!(timeoutS > 0)) {
    usage(`--timeout must be a positive number of seconds, got ${JSON.stringify(flags.timeout)}`);
  }
  let selected;
  if (flags.test_case.trim() === 'all') {
    selected = [...CASE_NAMES];
  } else {
    selected = flags.test_case.split(',').map((c) => c.trim()).filter((c) => c);
    const unknown = selected.filter((c) => !CASE_NAMES.includes(c));
    if (unknown.length > 0 || selected.length === 0) {
      process.stderr.write(`${TOOL}: unknown test case(s): ${unknown.join(', ') || '(none given)'}\n` +
        `known cases: ${CASE_NAMES.join(', ')}, all\n`);
      process.exit(2);
    }
  }

  const { grpc, protoLoader } = loadGrpc(TOOL);
  const testing = loadTesting(TOOL, grpc, protoLoader);
  let recorder;
  try {
    recorder = installClientRecorder();
  } catch (err) {
    process.stderr.write(`${TOOL}: ${err.message}\n`);
    process.exit(2);
  }

  let host = flags.server_host;
  if (host.includes(':') && !host.startsWith('[')) {
    host = `[${host}]`;
  }
  const cases = new Cases(grpc, testing, `${host}:${port}`, timeoutS * 1000, recorder);
  await cases.waitForReady(10000); // the cases fail with the actual error if it is not

  // Every case is bounded: its own calls carry deadlines, and this catches anything else.
  const caseLimitMs = timeoutS * 3000 + 10000;
  let failed = 0;
  for (const name of selected) {
    let timer;
    try {
      await Promise.race([
        cases[name](),
        new Promise((resolve, reject) => {
          timer = setTimeout(() => reject(new CaseFailure(`did not finish within ${caseLimitMs} ms`)), caseLimitMs);
        }),
      ]);
      process.stdout.write(`PASS ${name}\n`);
    } catch (err) {
      failed += 1;
      let reason;
      if (err instanceof CaseFailure) {
        reason = err.message;
      } else if (err && typeof err.code === 'number' && err.details !== undefined) {
        reason = `unexpected RPC error ${codeName(grpc, err.code)}: ${err.details}`;
      } else {
        reason = `${err && err.name ? err.name : 'Error'}: ${err && err.message ? err.message : err}`;
      }
      process.stdout.write(`FAIL ${name}: ${oneLine(reason)}\n`);
    } finally {
      clearTimeout(timer);
    }
  }
  cases.close();
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${TOOL}: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  },
);

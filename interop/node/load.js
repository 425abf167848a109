#!/usr/bin/env node
'use strict';
// Load generator (@grpc/grpc-js) for an interop TestService server.
//
// Usage:
//     node load.js --server_host H --server_port P [--unary N] [--bidi M] [--messages K]
//                  [--connections C] [--deadline_s S]
//
// Starts, all at once, N unary calls (UnaryCall with a 10-byte payload asking for a
// 10-byte response) and M FullDuplexCall streams, each of which sends K small requests
// (10-byte payload, one 10-byte response asked for each), half-closes and reads all K
// responses. Calls are spread round-robin over C channels; each channel has its own
// subchannel pool and a distinct option, so grpc-js opens C separate HTTP/2 connections
// instead of sharing one. Defaults: N=2000, M=200, K=50, C=1. Every call has a deadline of
// S seconds (default 120), and the whole run is bounded by S + 30 s.
//
// Prints one JSON line at the end:
//   {"calls_ok": .., "calls_failed": .., "messages_sent": .., "messages_received": ..,
//    "errors": {"CODE: message": count, ..}, "goaways": {"CODE debug": count, ..},
//    "elapsed_ms": ..}
// messages_* count request / response messages (a unary call is one of each). A duplex
// call fails if it does not end OK with exactly K responses of the asked size.
// Exit code: 0 only if every call succeeded, every message came back and no connection was
// closed by GOAWAY; 1 otherwise; 2 on a usage error.
//
// grpc-js reports a connection the server closed with GOAWAY only as the status of the
// calls on it (ENHANCE_YOUR_CALM, for one, becomes "RESOURCE_EXHAUSTED: Bandwidth exhausted
// or memory limit exceeded"). So unless GRPC_TRACE / GRPC_NODE_TRACE is set, this turns on
// grpc-js's `transport` tracer, keeps only its GOAWAY lines, and prints a count of them by
// code and debug data to stderr, e.g.
//   load: connections closed by GOAWAY: {"ENHANCE_YOUR_CALM (11) too_many_data_frames": 1}

const {
  loadGrpc, loadTesting, parseFlags, codeName, zeros,
} = require('./common');

const TOOL = 'load';
/** HTTP/2 error codes (RFC 9113 section 7), for the GOAWAY summary. */
const H2_CODES = [
  'NO_ERROR', 'PROTOCOL_ERROR', 'INTERNAL_ERROR', 'FLOW_CONTROL_ERROR', 'SETTINGS_TIMEOUT',
  'STREAM_CLOSED', 'FRAME_SIZE_ERROR', 'REFUSED_STREAM', 'CANCEL', 'COMPRESSION_ERROR',
  'CONNECT_ERROR', 'ENHANCE_YOUR_CALM', 'INADEQUATE_SECURITY', 'HTTP_1_1_REQUIRED',
];
const SMALL = 10;
const READY_LIMIT_MS = 10000;

const USAGE = 'usage: load.js --server_host H --server_port P [--unary N] [--bidi M] [--messages K] ' +
  '[--connections C] [--deadline_s S]';

function usage(problem) {
  if (problem) {
    process.stderr.write(`${TOOL}: ${problem}\n${USAGE}\n`);
    process.exit(2);
  }
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

function count(flags, name, min) {
  const value = Number(flags[name]);
  if (!Number.isInteger(value) || value < min) {
    usage(`--${name} must be an integer >= ${min}, got ${JSON.stringify(flags[name])}`);
  }
  return value;
}

function main() {
  const flags = parseFlags(process.argv.slice(2), {
    server_host: '127.0.0.1',
    server_port: undefined,
    unary: '2000',
    bidi: '200',
    messages: '50',
    connections: '1',
    deadline_s: '120',
  }, usage);
  const port = count(flags, 'server_port', 1);
  if (port > 65535) {
    usage(`--server_port must be 1-65535, got ${port}`);
  }
  const unary = count(flags, 'unary', 0);
  const bidi = count(flags, 'bidi', 0);
  const messages = count(flags, 'messages', 1);
  const connections = count(flags, 'connections', 1);
  const deadlineMs = count(flags, 'deadline_s', 1) * 1000;

  // Before grpc-js loads (it reads these once): its transport tracer, for the GOAWAYs.
  const watchGoaways = !process.env.GRPC_TRACE && !process.env.GRPC_NODE_TRACE;
  if (watchGoaways) {
    process.env.GRPC_NODE_TRACE = 'transport';
  }
  const { grpc, protoLoader } = loadGrpc(TOOL);
  const testing = loadTesting(TOOL, grpc, protoLoader);
  const goaways = {};
  if (watchGoaways) {
    const keep = (message) => {
      const match = /connection closed by GOAWAY with code (\d+) and data (.*)$/.exec(String(message));
      if (match) {
        const code = Number(match[1]);
        const key = `${H2_CODES[code] || 'code'} (${code}) ${match[2]}`;
        goaways[key] = (goaways[key] || 0) + 1;
      }
    };
    grpc.setLogger({
      error: (message, ...rest) => process.stderr.write(`E ${[message, ...rest].join(' ')}\n`),
      info: keep,
      debug: keep,
    });
    grpc.setLogVerbosity(grpc.logVerbosity.DEBUG);
  }

  let host = flags.server_host;
  if (host.includes(':') && !host.startsWith('[')) {
    host = `[${host}]`;
  }
  const target = `${host}:${port}`;
  const credentials = grpc.credentials.createInsecure();
  const clients = [];
  for (let i = 0; i < connections; i++) {
    clients.push(new testing.TestService(target, credentials, {
      // Its own subchannel pool, and an option no other channel has: one connection each.
      'grpc.use_local_subchannel_pool': 1,
      'rgrpc.interop.load_channel_id': i,
    }));
  }

  const stats = {
    calls_ok: 0,
    calls_failed: 0,
    messages_sent: 0,
    messages_received: 0,
    errors: {},
  };
  const total = unary + bidi;
  let finished = 0;
  let started = 0;
  let reported = false;

  function report() {
    if (reported) {
      return;
    }
    reported = true;
    const elapsedMs = started ? Date.now() - started : 0;
    // GOAWAYs are part of the verdict: a connection the server closed is a failure even
    // when grpc-js managed to finish every call on another one.
    const line = JSON.stringify({ ...stats, goaways, elapsed_ms: elapsedMs });
    if (Object.keys(goaways).length > 0) {
      process.stderr.write(`${TOOL}: connections closed by GOAWAY: ${JSON.stringify(goaways)}\n`);
    }
    process.stdout.write(`${line}\n`);
    const ok = stats.calls_failed === 0 && stats.calls_ok === total &&
      stats.messages_received === stats.messages_sent && Object.keys(goaways).length === 0;
    for (const client of clients) {
      client.close();
    }
    process.exit(ok ? 0 : 1);
  }

  function done(error) {
    if (error) {
      stats.calls_failed += 1;
      stats.errors[error] = (stats.errors[error] || 0) + 1;
    } else {
      stats.calls_ok += 1;
    }
    finished += 1;
    if (finished === total) {
      report();
    }
  }

  function statusKey(status) {
    return `${codeName(grpc, status.code)}: ${status.details}`;
  }

  function bodyLength(response) {
    return response && response.payload && response.payload.body ? response.payload.body.length : 0;
  }

  function startUnary(client) {
    stats.messages_sent += 1;
    client.UnaryCall({
      response_type: 'COMPRESSABLE',
      response_size: SMALL,
      payload: { type: 'COMPRESSABLE', body: zeros(SMALL) },
    }, { deadline: Date.now() + deadlineMs }, (err, response) => {
      if (err) {
        done(statusKey(err));
      } else if (bodyLength(response) !== SMALL) {
        done(`OK: UnaryCall response of ${bodyLength(response)} bytes, want ${SMALL}`);
      } else {
        stats.messages_received += 1;
        done(null);
      }
    });
  }

  function startBidi(client) {
    const call = client.FullDuplexCall({ deadline: Date.now() + deadlineMs });
    let received = 0;
    let wrongSize = 0;
    call.on('data', (response) => {
      received += 1;
      stats.messages_received += 1;
      if (bodyLength(response) !== SMALL) {
        wrongSize += 1;
      }
    });
    call.on('error', () => {}); // the status says it all
    call.on('status', (status) => {
      if (status.code !== grpc.status.OK) {
        done(statusKey(status));
      } else if (received !== messages) {
        done(`OK: FullDuplexCall ended after ${received} of ${messages} responses`);
      } else if (wrongSize) {
        done(`OK: FullDuplexCall got ${wrongSize} responses of the wrong size`);
      } else {
        done(null);
      }
    });
    for (let i = 0; i < messages; i++) {
      stats.messages_sent += 1;
      call.write({
        response_type: 'COMPRESSABLE',
        response_parameters: [{ size: SMALL }],
        payload: { type: 'COMPRESSABLE', body: zeros(SMALL) },
      });
    }
    call.end();
  }

  // Whatever happens, the run ends: a report after the deadline and 30 s more.
  setTimeout(() => {
    stats.errors[`HARNESS: ${total - finished} calls unfinished ${deadlineMs / 1000 + 30} s after the start`] =
      total - finished;
    stats.calls_failed += total - finished;
    report();
  }, deadlineMs + 30000);

  // Connect first (bounded), so that elapsed_ms measures the calls, not the handshakes.
  let ready = 0;
  const go = () => {
    started = Date.now();
    if (total === 0) {
      report();
      return;
    }
    let next = 0;
    for (let i = 0; i < unary; i++) {
      startUnary(clients[next++ % connections]);
    }
    for (let i = 0; i < bidi; i++) {
      startBidi(clients[next++ % connections]);
    }
  };
  for (const client of clients) {
    client.waitForReady(Date.now() + READY_LIMIT_MS, () => {
      ready += 1;
      if (ready === clients.length) {
        go();
      }
    });
  }
}

main();

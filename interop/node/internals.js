'use strict';
// What the interop peers need to know about a call that @grpc/grpc-js 1.14 has no public
// API for, read from its internals without changing what they do.
//
// 1. The gRPC message "compressed" flag (the first byte of each length-prefixed message),
//    as grpc-js itself reads and writes it:
//
// * server, requests: BaseServerInterceptingCall.prototype.decompressAndMaybePush(entry)
//   (build/src/server-interceptors.js) gets every received message still framed, in
//   arrival order; grpc-js decompresses it iff that byte is 1. A server interceptor (public
//   API) then pairs the i-th delivered message with the i-th flag, in the same order.
// * client: CompressionFilter.prototype.sendMessage / receiveMessage / receiveMetadata
//   (build/src/compression-filter.js) frame every sent message and deframe every received
//   one, and see the response's grpc-encoding header before grpc-js strips it.
//
//
// 2. Server: the status grpc-js actually put on the wire for a call. The handler's call
//    object cannot tell a client's RST_STREAM from a half-close: Node's http2 ends the
//    request stream on RST_STREAM, so grpc-js delivers a half-close first and only then
//    the 'cancelled' event, and a handler that answers in between sees its status dropped.
//    statusSent(call) reads grpc-status from the HTTP/2 stream's sentTrailers / sentHeaders
//    and its rstCode (Node's public Http2Stream API); the stream is the
//    BaseServerInterceptingCall's private `stream`, reached through the interceptor below.
//
// All of this depends on grpc-js internals of the pinned version (package.json);
// install*() throws if they are missing, so an upgrade that moves them fails loudly
// instead of silently testing nothing.

const { requireInternal } = require('./common');

const SERVER_FLAGS = Symbol('rgrpc-interop wire flags');

/**
 * Server side. Returns { interceptor, wasCompressed(message), statusSent(call) }: pass
 * `interceptor` in the Server's `interceptors` option (as the only one). Then
 * wasCompressed(request) is true / false for a request message that arrived with the
 * compressed flag set / clear (undefined if it was not seen), and statusSent(call) is the
 * grpc-status code grpc-js sent for the handler's call object `call` (undefined if none
 * went out, e.g. the client reset the stream with an error code; null if the stream is
 * not reachable).
 */
function installServerHooks(grpc) {
  const internals = requireInternal('@grpc/grpc-js', 'build/src/server-interceptors');
  const Base = internals.BaseServerInterceptingCall;
  const original = Base && Base.prototype.decompressAndMaybePush;
  if (typeof original !== 'function') {
    throw new Error('this @grpc/grpc-js has no BaseServerInterceptingCall.decompressAndMaybePush; ' +
      'the per-message compressed flag cannot be observed (see internals.js)');
  }
  if (!original[SERVER_FLAGS]) {
    const wrapped = function decompressAndMaybePush(entry) {
      if (!this[SERVER_FLAGS]) {
        this[SERVER_FLAGS] = [];
      }
      const framed = entry && entry.compressedMessage;
      this[SERVER_FLAGS].push(Buffer.isBuffer(framed) && framed.length > 0 ? framed[0] === 1 : undefined);
      return original.call(this, entry);
    };
    wrapped[SERVER_FLAGS] = true;
    Base.prototype.decompressAndMaybePush = wrapped;
  }

  const flagOf = new WeakMap();
  const baseOf = new WeakMap(); // request Metadata object -> BaseServerInterceptingCall
  function interceptor(methodDescriptor, call) {
    let delivered = 0;
    return new grpc.ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, nextMetadata) {
            // The handler's call object carries this very Metadata object as .metadata.
            baseOf.set(metadata, call);
            nextMetadata(metadata);
          },
          onReceiveMessage(message, nextMessage) {
            // `call` is the BaseServerInterceptingCall (this is the only interceptor).
            const flags = call[SERVER_FLAGS] || [];
            const flag = flags[delivered];
            delivered += 1;
            if (message !== null && typeof message === 'object' && flag !== undefined) {
              flagOf.set(message, flag);
            }
            nextMessage(message);
          },
        });
      },
    });
  }
  function statusSent(handlerCall) {
    const base = handlerCall && handlerCall.metadata ? baseOf.get(handlerCall.metadata) : undefined;
    const stream = base && base.stream;
    if (!stream || typeof stream !== 'object') {
      return null;
    }
    // Reset by the peer (RST_STREAM with an error code, e.g. CANCEL): whatever grpc-js
    // handed to the stream after that never left (Node even records a trailers-only
    // respond() on a reset stream in sentHeaders).
    if (typeof stream.rstCode === 'number' && stream.rstCode !== 0) {
      return undefined;
    }
    for (const sent of [stream.sentTrailers, stream.sentHeaders]) {
      if (sent && sent['grpc-status'] !== undefined) {
        return Number(sent['grpc-status']);
      }
    }
    return undefined;
  }
  return {
    interceptor,
    wasCompressed: (message) => (message !== null && typeof message === 'object' ? flagOf.get(message) : undefined),
    statusSent,
  };
}

/**
 * Client side. Returns a recorder: start() begins a record, stop() ends it and returns
 * { sent: [bool...], received: [bool...], receivedEncoding: [string...] } for every message
 * any call of this process framed / deframed in between (the compression cases run one
 * call at a time, so that is the call under test).
 */
function installClientRecorder() {
  const { CompressionFilter } = requireInternal('@grpc/grpc-js', 'build/src/compression-filter');
  const proto = CompressionFilter && CompressionFilter.prototype;
  for (const method of ['sendMessage', 'receiveMessage', 'receiveMetadata']) {
    if (!proto || typeof proto[method] !== 'function') {
      throw new Error(`this @grpc/grpc-js has no CompressionFilter.${method}; ` +
        'the per-message compressed flag cannot be observed (see internals.js)');
    }
  }
  let current = null;
  if (!proto.sendMessage[SERVER_FLAGS]) {
    const send = proto.sendMessage;
    const receive = proto.receiveMessage;
    const metadata = proto.receiveMetadata;
    proto.sendMessage = async function sendMessage(message) {
      const framed = await send.call(this, message);
      if (current && framed && Buffer.isBuffer(framed.message)) {
        current.sent.push(framed.message[0] === 1);
      }
      return framed;
    };
    proto.receiveMessage = async function receiveMessage(message) {
      const framed = await message;
      if (current && Buffer.isBuffer(framed)) {
        current.received.push(framed[0] === 1);
      }
      return receive.call(this, Promise.resolve(framed));
    };
    proto.receiveMetadata = function receiveMetadata(md) {
      if (current) {
        current.receivedEncoding.push(...md.get('grpc-encoding').map(String));
      }
      return metadata.call(this, md);
    };
    proto.sendMessage[SERVER_FLAGS] = true;
  }
  return {
    start() {
      current = { sent: [], received: [], receivedEncoding: [] };
    },
    stop() {
      const record = current || { sent: [], received: [], receivedEncoding: [] };
      current = null;
      return record;
    },
  };
}

module.exports = { installServerHooks, installClientRecorder };

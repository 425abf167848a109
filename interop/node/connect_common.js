'use strict';
// Shared by the connect-node peers (connect_client.js, connect_server.js): the pinned
// @connectrpc and @bufbuild modules, and the grpc.testing schema.
//
// The schema comes from a FileDescriptorSet (--descriptors FILE) that the Rust test writes
// from the descriptors protoc-gen-rgrpc embedded in the generated interop server. So the
// JS side runs on exactly the schema rgrpc serves, with no code generation step and no
// second generator to pin: @bufbuild/protobuf builds the registry at run time.

const fs = require('fs');
const { requirePinned } = require('./common');

const ECHO_INITIAL_KEY = 'x-grpc-test-echo-initial';
const ECHO_TRAILING_KEY = 'x-grpc-test-echo-trailing-bin';
/** rgrpc's interop extension: how long UnaryCall sleeps before answering. */
const SLEEP_KEY = 'x-interop-sleep-ms';

/** The pinned modules, each checked against package.json. */
function loadConnect(tool) {
  return {
    protobuf: requirePinned(tool, '@bufbuild/protobuf'),
    wkt: requirePinned(tool, '@bufbuild/protobuf', 'wkt'),
    connect: requirePinned(tool, '@connectrpc/connect'),
    protocol: requirePinned(tool, '@connectrpc/connect', 'protocol'),
    node: requirePinned(tool, '@connectrpc/connect-node'),
  };
}

/**
 * grpc.testing from the FileDescriptorSet at `file`: the services and the message schemas
 * by short name (TestService, SimpleRequest, EchoStatus, ...).
 */
function loadSchema(modules, file) {
  const { protobuf, wkt } = modules;
  const set = protobuf.fromBinary(wkt.FileDescriptorSetSchema, fs.readFileSync(file));
  const byName = new Map(set.file.map((proto) => [proto.name, proto]));
  const root = byName.get('grpc/testing/test.proto');
  if (!root) {
    throw new Error(`${file} has no grpc/testing/test.proto (it has: ${[...byName.keys()]})`);
  }
  // The resolver form takes the files in any order; the set form wants imports first.
  const registry = protobuf.createFileRegistry(root, (name) => byName.get(name));
  const get = (kind, name) => {
    const found = kind === 'service'
      ? registry.getService(`grpc.testing.${name}`)
      : registry.getMessage(`grpc.testing.${name}`);
    if (!found) {
      throw new Error(`${file} has no ${kind} grpc.testing.${name}`);
    }
    return found;
  };
  return {
    TestService: get('service', 'TestService'),
    UnimplementedService: get('service', 'UnimplementedService'),
    Empty: get('message', 'Empty'),
    Payload: get('message', 'Payload'),
    EchoStatus: get('message', 'EchoStatus'),
    SimpleRequest: get('message', 'SimpleRequest'),
    SimpleResponse: get('message', 'SimpleResponse'),
    StreamingOutputCallRequest: get('message', 'StreamingOutputCallRequest'),
    StreamingOutputCallResponse: get('message', 'StreamingOutputCallResponse'),
    StreamingInputCallRequest: get('message', 'StreamingInputCallRequest'),
    StreamingInputCallResponse: get('message', 'StreamingInputCallResponse'),
  };
}

/** Connect's Code enum value -> the gRPC name (DEADLINE_EXCEEDED, ...). */
function codeName(Code, code) {
  const name = Code[code];
  if (name === undefined) {
    return `CODE_${code}`;
  }
  // Connect spells CANCELLED "Canceled"; gRPC's name is the one the Rust side compares.
  return name === 'Canceled'
    ? 'CANCELLED'
    : name.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
}

/** Lowercase hex of a byte array, for binary metadata in JSON reports. */
function hex(bytes) {
  return Buffer.from(bytes).toString('hex');
}

module.exports = {
  ECHO_INITIAL_KEY,
  ECHO_TRAILING_KEY,
  SLEEP_KEY,
  loadConnect,
  loadSchema,
  codeName,
  hex,
};

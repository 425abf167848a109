'use strict';
// Shared by the Node.js peers of the rgrpc interop harness (grpc-js and connect-node):
// finding the pinned modules, loading the grpc.testing protos, flags, status names.
//
// Modules: from $INTEROP_NODE_DIR/node_modules when INTEROP_NODE_DIR is set (setup.sh DIR
// installs there), else from node_modules beside this file (setup.sh with no argument).
// The installed versions must be exactly the ones package.json pins; anything else is a
// usage error (exit 2), so a stale install is never taken for the pinned peer.

const fs = require('fs');
const path = require('path');

const HERE = __dirname;
const REPO_ROOT = path.resolve(HERE, '..', '..');

function modulesBase() {
  const dir = process.env.INTEROP_NODE_DIR;
  return dir ? path.resolve(dir) : HERE;
}

function die(tool, message) {
  process.stderr.write(`${tool}: ${message}\n`);
  process.exit(2);
}

/**
 * Requires `name` (or its export `name/subpath`, e.g. @bufbuild/protobuf/wkt) from the
 * peer's own node_modules, checking it is the pinned version.
 */
function requirePinned(tool, name, subpath) {
  const base = modulesBase();
  const pins = JSON.parse(fs.readFileSync(path.join(HERE, 'package.json'), 'utf8')).dependencies;
  // Read directly: a package's "exports" map may not export its package.json.
  const manifest = path.join(base, 'node_modules', name, 'package.json');
  if (!fs.existsSync(manifest)) {
    die(tool, `${name} is not installed under ${base}/node_modules (run interop/node/setup.sh${
      process.env.INTEROP_NODE_DIR ? ' ' + base : ''})`);
  }
  const version = JSON.parse(fs.readFileSync(manifest, 'utf8')).version;
  if (pins[name] !== version) {
    die(tool, `${name} ${version} is installed under ${base}, package.json pins ${pins[name]} ` +
      '(run interop/node/setup.sh again)');
  }
  if (subpath) {
    // Through the package's "exports" map, which a directory require would skip.
    return require(require.resolve(`${name}/${subpath}`, { paths: [base] }));
  }
  return require(path.dirname(manifest));
}

/** The installed module's own file `rel` (e.g. build/src/compression-filter), same install. */
function requireInternal(name, rel) {
  const manifest = require.resolve(`${name}/package.json`, { paths: [modulesBase()] });
  return require(path.join(path.dirname(manifest), rel));
}

function loadGrpc(tool) {
  const grpc = requirePinned(tool, '@grpc/grpc-js');
  const protoLoader = requirePinned(tool, '@grpc/proto-loader');
  return { grpc, protoLoader };
}

/**
 * Loads grpc.testing from proto/grpc/testing/test.proto (include dir proto/, or
 * $INTEROP_PROTO_DIR). Fields keep their proto names; unset message fields stay undefined
 * (defaults: false) so that "set" and "unset" (e.g. response_status, expect_compressed)
 * can be told apart, as the Python peer does with HasField.
 */
function loadTesting(tool, grpc, protoLoader) {
  const protoDir = process.env.INTEROP_PROTO_DIR || path.join(REPO_ROOT, 'proto');
  const file = path.join(protoDir, 'grpc', 'testing', 'test.proto');
  if (!fs.existsSync(file)) {
    die(tool, `no ${file} (set INTEROP_PROTO_DIR to the directory holding grpc/testing/)`);
  }
  const definition = protoLoader.loadSync('grpc/testing/test.proto', {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
    includeDirs: [protoDir],
  });
  return grpc.loadPackageDefinition(definition).grpc.testing;
}

/**
 * Parses `--flag value` / `--flag=value` arguments (as Python's argparse accepts them).
 * `spec` maps flag name (without --) to its default (undefined = required). Returns the
 * values, or calls usage(message) on an unknown flag, a missing value or a missing flag.
 */
function parseFlags(argv, spec, usage) {
  const values = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-h' || arg === '--help') {
      usage(null);
    }
    if (!arg.startsWith('--')) {
      usage(`unexpected argument ${JSON.stringify(arg)}`);
    }
    let name = arg.slice(2);
    let value;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    } else {
      if (i + 1 >= argv.length) {
        usage(`--${name} needs a value`);
      }
      value = argv[++i];
    }
    if (!Object.prototype.hasOwnProperty.call(spec, name)) {
      usage(`unknown argument --${name}`);
    }
    values[name] = value;
  }
  for (const [name, fallback] of Object.entries(spec)) {
    if (values[name] === undefined) {
      if (fallback === undefined) {
        usage(`--${name} is required`);
      }
      values[name] = fallback;
    }
  }
  return values;
}

/** Status code number -> name (OK, CANCELLED, ...). */
function codeName(grpc, code) {
  for (const [name, value] of Object.entries(grpc.status)) {
    if (value === code) {
      return name;
    }
  }
  return `CODE_${code}`;
}

/** A buffer of `size` zero bytes. */
function zeros(size) {
  return Buffer.alloc(size);
}

/** One line: CR and LF escaped, as the Python peer prints reasons. */
function oneLine(text) {
  return String(text).replace(/\r/g, '\\r').replace(/\n/g, '\\n');
}

module.exports = {
  REPO_ROOT,
  requirePinned,
  loadGrpc,
  loadTesting,
  requireInternal,
  parseFlags,
  codeName,
  zeros,
  oneLine,
};

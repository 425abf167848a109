#!/usr/bin/env python3
"""grpcio (C-core) interop server for the rgrpc interop harness.

Usage:
    VENV/bin/python interop_server.py --port N [--observations FILE]
                                      [--stubs DIR] [--workers K]

Serves grpc.testing.TestService on 127.0.0.1:N (N=0 picks a free port) and
prints exactly one line ``listening on 127.0.0.1:PORT`` on stdout once it is
listening. SIGTERM / SIGINT stop it (grace 1 s), exit code 0.

Stubs: the generated ``grpc/testing/*_pb2*.py`` are loaded from ``--stubs DIR``,
else from ``$INTEROP_STUBS``, else from ``<sys.prefix>/gen`` (the ``gen`` dir
that setup_venv.sh creates inside the venv, so running with VENV/bin/python
needs neither).

Observations (``--observations FILE``): one JSON line appended per RPC once it
ends, e.g. ``{"method": "FullDuplexCall", "outcome": "cancelled"}``; outcome is
one of ok / error / deadline_exceeded / cancelled (see README.md).

rgrpc extension: request header ``x-interop-sleep-ms: <ms>`` makes every
method sleep that long before answering (unary: before the response;
streaming: before the first response; StreamingInputCall: after the client
half-closed), returning early as soon as the RPC is cancelled or its
deadline passes.

Compression (doc/interop-test-descriptions.md):

* CompressedResponse is implemented with grpcio's per-call and per-message
  controls: UnaryCall with ``response_compressed: true`` answers after
  ``context.set_compression(grpc.Compression.Gzip)``; StreamingOutputCall sets
  gzip for the call when any ResponseParameters asks for ``compressed: true``
  and calls ``context.disable_next_message_compression()`` before each response
  whose parameters do not. (C-core only compresses if the client's
  grpc-accept-encoding lists gzip, as it should.)
* CompressedRequest (``expect_compressed``) is NOT implemented: grpcio gives a
  handler no way to tell how a request arrived. It decompresses in C-core's
  compression filter before the handler sees the bytes, strips grpc-encoding
  from ``invocation_metadata()``, and does not expose the received message
  flags (C-core has them only through a test-only call,
  grpc_call_test_only_get_message_flags, which cygrpc does not wrap). So
  ``expect_compressed`` is ignored, as by a server without the feature: the
  client_compressed_* feature probe (an uncompressed message that says it is
  compressed) succeeds here instead of failing with INVALID_ARGUMENT, and a
  client that follows the standard reports that this server lacks the feature.
"""

import argparse
import json
import os
import signal
import sys
import threading
import time
from concurrent import futures

import grpc


def load_stubs(stubs_dir):
    """Import the generated grpc.testing stubs from stubs_dir.

    protoc writes them as stubs_dir/grpc/testing/*.py, whose imports say
    ``from grpc.testing import ...``; ``grpc`` is grpcio's own package, so its
    search path is extended with stubs_dir/grpc.
    """
    stubs_dir = stubs_dir or os.environ.get("INTEROP_STUBS") or os.path.join(sys.prefix, "gen")
    stubs_dir = os.path.abspath(stubs_dir)
    pkg_dir = os.path.join(stubs_dir, "grpc")
    if not os.path.isfile(os.path.join(pkg_dir, "testing", "test_pb2_grpc.py")):
        sys.stderr.write(
            "interop_server: no generated stubs in %s (run setup_venv.sh, or pass "
            "--stubs DIR / set INTEROP_STUBS)\n" % stubs_dir
        )
        sys.exit(2)
    if pkg_dir not in grpc.__path__:
        grpc.__path__.append(pkg_dir)
    from grpc.testing import empty_pb2, messages_pb2, test_pb2_grpc  # noqa: E402

    return empty_pb2, messages_pb2, test_pb2_grpc


ECHO_INITIAL_KEY = "x-grpc-test-echo-initial"
ECHO_TRAILING_KEY = "x-grpc-test-echo-trailing-bin"
SLEEP_KEY = "x-interop-sleep-ms"
POLL_S = 0.005
DEADLINE_EPSILON_S = 0.05


class ObservationLog:
    """Appends one JSON line per finished RPC to a file (or discards)."""

    def __init__(self, path):
        self._lock = threading.Lock()
        self._file = open(path, "a", encoding="utf-8") if path else None

    def record(self, method, outcome):
        if self._file is None:
            return
        line = json.dumps({"method": method, "outcome": outcome}) + "\n"
        with self._lock:
            self._file.write(line)
            self._file.flush()

    def close(self):
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def _cancelled_by_core(context):
    """Whether C-core reported the RPC as cancelled (client cancel, deadline,
    transport failure) rather than finished with the status the server sent.

    A cancellation can reach the handler first as a plain end of the request
    stream (the pending read completes empty before the close-on-server
    event): the handler then "finishes normally" while the RPC is still
    active, so that flag alone cannot tell. grpcio keeps the core's verdict
    in the private ``context._state.client``; if that is missing (another
    grpcio version), fall back to the handler-finished flag alone.
    """
    state = getattr(context, "_state", None)
    client = getattr(state, "client", None)
    if client is None:
        return False
    return client == "cancelled"


class RpcObservation:
    """Tracks how one RPC ended; records exactly one observation line.

    The termination callback (context.add_callback) fires once the RPC is
    over: after the status was sent, or when the client cancelled / the
    deadline passed. If by then the handler had already finished *while the
    RPC was still active* and C-core does not report the RPC as cancelled,
    the outcome is the handler's (ok / error); otherwise the RPC was
    terminated under it: deadline_exceeded when the deadline has (about)
    passed, cancelled otherwise.
    """

    def __init__(self, log, method, context):
        self._log = log
        self._method = method
        self._context = context
        self._lock = threading.Lock()
        self._finished = False  # handler returned/raised while the RPC was active
        self._error = False  # ... and it ended with a non-OK status it chose
        self._recorded = False
        if not context.add_callback(self._on_termination):
            # Already terminated before the handler even started.
            self._on_termination()

    def handler_done(self, error):
        active = self._context.is_active()
        with self._lock:
            if active:
                self._finished = True
                self._error = error

    def _on_termination(self):
        with self._lock:
            if self._recorded:
                return
            self._recorded = True
            cancelled = _cancelled_by_core(self._context)
            if self._finished and not cancelled:
                outcome = "error" if self._error else "ok"
            else:
                remaining = self._context.time_remaining()
                if remaining is not None and remaining <= DEADLINE_EPSILON_S:
                    outcome = "deadline_exceeded"
                else:
                    outcome = "cancelled"
        self._log.record(self._method, outcome)


def observed(method, streaming_response):
    """Decorator: wraps a handler(self, request, context) with an RpcObservation."""

    def decorate(fn):
        if streaming_response:

            def wrapper(self, request, context):
                obs = RpcObservation(self.log, method, context)
                try:
                    yield from fn(self, request, context)
                except BaseException:
                    obs.handler_done(error=True)
                    raise
                obs.handler_done(error=False)

        else:

            def wrapper(self, request, context):
                obs = RpcObservation(self.log, method, context)
                try:
                    result = fn(self, request, context)
                except BaseException:
                    obs.handler_done(error=True)
                    raise
                obs.handler_done(error=False)
                return result

        wrapper.__name__ = fn.__name__
        wrapper.__doc__ = fn.__doc__
        return wrapper

    return decorate


def sleep_while_active(context, seconds):
    """Sleeps up to `seconds`; returns False early once the RPC is inactive."""
    end = time.monotonic() + seconds
    while True:
        if not context.is_active():
            return False
        left = end - time.monotonic()
        if left <= 0:
            return True
        time.sleep(min(POLL_S, left))


def metadata_value(context, key):
    for k, v in context.invocation_metadata() or ():
        if k == key:
            return v
    return None


def echo_metadata(context):
    """Echoes x-grpc-test-echo-initial / x-grpc-test-echo-trailing-bin."""
    initial = metadata_value(context, ECHO_INITIAL_KEY)
    if initial is not None:
        context.send_initial_metadata(((ECHO_INITIAL_KEY, initial),))
    trailing = metadata_value(context, ECHO_TRAILING_KEY)
    if trailing is not None:
        context.set_trailing_metadata(((ECHO_TRAILING_KEY, trailing),))


def requested_sleep(context):
    """Handles x-interop-sleep-ms; returns False if the RPC ended meanwhile."""
    value = metadata_value(context, SLEEP_KEY)
    if value is None:
        return True
    try:
        ms = int(value.decode() if isinstance(value, bytes) else value)
    except ValueError:
        return True
    return sleep_while_active(context, max(ms, 0) / 1000.0)


def abort_with(context, status):
    """Ends the RPC with an EchoStatus (code must be nonzero); raises."""
    try:
        code = next(c for c in grpc.StatusCode if c.value[0] == status.code)
    except StopIteration:
        code = grpc.StatusCode.UNKNOWN
    context.abort(code, status.message)


def make_servicer(empty_pb2, messages_pb2, test_pb2_grpc):
    def payload(size):
        return messages_pb2.Payload(type=messages_pb2.COMPRESSABLE, body=b"\0" * size)

    class TestService(test_pb2_grpc.TestServiceServicer):
        def __init__(self, log):
            self.log = log

        def _unary(self, request, context):
            # Compression is chosen before any initial metadata goes out (echo_metadata
            # may send it), as grpcio requires. expect_compressed cannot be checked (see
            # the module docstring).
            if request.HasField("response_compressed") and request.response_compressed.value:
                context.set_compression(grpc.Compression.Gzip)
            echo_metadata(context)
            if not requested_sleep(context):
                return messages_pb2.SimpleResponse()
            if request.HasField("response_status") and request.response_status.code != 0:
                abort_with(context, request.response_status)
            return messages_pb2.SimpleResponse(payload=payload(request.response_size))

        def _stream_responses(self, request, context, per_message_compression=False):
            """Yields the responses of one StreamingOutputCallRequest.

            With per_message_compression (the call was set to gzip), each response
            whose parameters do not ask for compressed: true goes out uncompressed.
            Returns False if the RPC went inactive before all were sent."""
            for params in request.response_parameters:
                if not sleep_while_active(context, params.interval_us / 1e6):
                    return False
                if not context.is_active():
                    return False
                if per_message_compression and not (
                    params.HasField("compressed") and params.compressed.value
                ):
                    context.disable_next_message_compression()
                yield messages_pb2.StreamingOutputCallResponse(payload=payload(params.size))
            return True

        @observed("EmptyCall", streaming_response=False)
        def EmptyCall(self, request, context):
            echo_metadata(context)
            requested_sleep(context)
            return empty_pb2.Empty()

        @observed("UnaryCall", streaming_response=False)
        def UnaryCall(self, request, context):
            return self._unary(request, context)

        @observed("CacheableUnaryCall", streaming_response=False)
        def CacheableUnaryCall(self, request, context):
            return self._unary(request, context)

        @observed("StreamingOutputCall", streaming_response=True)
        def StreamingOutputCall(self, request, context):
            compress = any(
                p.HasField("compressed") and p.compressed.value for p in request.response_parameters
            )
            if compress:
                context.set_compression(grpc.Compression.Gzip)
            echo_metadata(context)
            if not requested_sleep(context):
                return
            completed = yield from self._stream_responses(request, context, compress)
            if not completed:
                return
            if request.HasField("response_status") and request.response_status.code != 0:
                abort_with(context, request.response_status)

        @observed("StreamingInputCall", streaming_response=False)
        def StreamingInputCall(self, request_iterator, context):
            echo_metadata(context)
            total = 0
            for request in request_iterator:
                total += len(request.payload.body)
            requested_sleep(context)
            return messages_pb2.StreamingInputCallResponse(aggregated_payload_size=total)

        @observed("FullDuplexCall", streaming_response=True)
        def FullDuplexCall(self, request_iterator, context):
            echo_metadata(context)
            if not requested_sleep(context):
                return
            for request in request_iterator:
                if request.HasField("response_status") and request.response_status.code != 0:
                    abort_with(context, request.response_status)
                completed = yield from self._stream_responses(request, context)
                if not completed:
                    return

        @observed("HalfDuplexCall", streaming_response=True)
        def HalfDuplexCall(self, request_iterator, context):
            echo_metadata(context)
            requests = list(request_iterator)
            if not requested_sleep(context):
                return
            for request in requests:
                if request.HasField("response_status") and request.response_status.code != 0:
                    abort_with(context, request.response_status)
                completed = yield from self._stream_responses(request, context)
                if not completed:
                    return

        @observed("UnimplementedCall", streaming_response=False)
        def UnimplementedCall(self, request, context):
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "UnimplementedCall is not implemented")

    return TestService


def main(argv=None):
    parser = argparse.ArgumentParser(description="grpcio interop server (rgrpc harness)")
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1; 0 picks a free one")
    parser.add_argument("--observations", default=None, help="append one JSON line per finished RPC here")
    parser.add_argument("--stubs", default=None, help="generated stubs dir (default: $INTEROP_STUBS, else <venv>/gen)")
    parser.add_argument("--workers", type=int, default=32, help="handler thread pool size (default 32)")
    args = parser.parse_args(argv)

    empty_pb2, messages_pb2, test_pb2_grpc = load_stubs(args.stubs)
    log = ObservationLog(args.observations)
    servicer = make_servicer(empty_pb2, messages_pb2, test_pb2_grpc)(log)

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=args.workers))
    test_pb2_grpc.add_TestServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:%d" % args.port)
    if port == 0:
        sys.stderr.write("interop_server: cannot listen on 127.0.0.1:%d\n" % args.port)
        return 1

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    server.start()
    sys.stdout.write("listening on 127.0.0.1:%d\n" % port)
    sys.stdout.flush()

    while not stop.wait(0.5):
        pass
    server.stop(grace=1).wait(5)
    log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

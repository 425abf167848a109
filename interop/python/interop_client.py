#!/usr/bin/env python3
"""grpcio (C-core) interop client for the rgrpc interop harness.

Usage:
    VENV/bin/python interop_client.py --server_host H --server_port P \
        --test_case CASES [--stubs DIR] [--timeout SECONDS]

CASES is one case name, a comma-separated list, or ``all``. Prints one line
per case, ``PASS <case>`` or ``FAIL <case>: <reason>``, in the order given.
Exit code: 0 all passed, 1 some failed, 2 usage error (e.g. unknown case).

Stubs: as for interop_server.py (--stubs DIR, else $INTEROP_STUBS, else
<sys.prefix>/gen).

The cases follow grpc/grpc doc/interop-test-descriptions.md; the
timeout_on_sleeping_server case also checks the rgrpc extension header
``x-interop-sleep-ms`` (a server that ignores it fails that case).

Compression cases, with grpcio's per-call ``compression=`` argument (gzip):

* client_compressed_unary: exactly as the standard describes (the probe, one
  compressed call, one uncompressed call).
* client_compressed_streaming: grpcio can compress a whole call but cannot send
  one message of a compressed call uncompressed (the sync and aio stubs take no
  per-message write flags; C-core's GRPC_WRITE_NO_COMPRESS is not reachable).
  So after the probe, the second call sends the compressed message with
  ``expect_compressed: true`` as the standard says, and then the 45904-byte
  message *compressed too, without expect_compressed* (instead of uncompressed
  with ``expect_compressed: false``, which grpcio cannot produce and a correct
  server would reject). The per-message toggle is not tested by this client.
* server_compressed_unary / server_compressed_streaming: the requests are the
  standard's, and the responses' sizes and contents are checked; whether each
  response had the compressed flag set is not: grpcio exposes neither the
  received message flags nor the response's grpc-encoding header.
"""

import argparse
import os
import queue
import sys
import threading
import time

import grpc


def load_stubs(stubs_dir):
    """Import the generated grpc.testing stubs (see interop_server.load_stubs)."""
    stubs_dir = stubs_dir or os.environ.get("INTEROP_STUBS") or os.path.join(sys.prefix, "gen")
    stubs_dir = os.path.abspath(stubs_dir)
    pkg_dir = os.path.join(stubs_dir, "grpc")
    if not os.path.isfile(os.path.join(pkg_dir, "testing", "test_pb2_grpc.py")):
        sys.stderr.write(
            "interop_client: no generated stubs in %s (run setup_venv.sh, or pass "
            "--stubs DIR / set INTEROP_STUBS)\n" % stubs_dir
        )
        sys.exit(2)
    if pkg_dir not in grpc.__path__:
        grpc.__path__.append(pkg_dir)
    from grpc.testing import empty_pb2, messages_pb2, test_pb2_grpc  # noqa: E402

    return empty_pb2, messages_pb2, test_pb2_grpc


ECHO_INITIAL = ("x-grpc-test-echo-initial", "test_initial_metadata_value")
ECHO_TRAILING = ("x-grpc-test-echo-trailing-bin", b"\xab\xab\xab")
SPECIAL_MESSAGE = "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001f608\t\n"


class CaseFailure(Exception):
    pass


def check(condition, reason):
    if not condition:
        raise CaseFailure(reason)


class RequestQueue:
    """Request iterator for streaming calls, fed from a queue.

    put() sends a request, close() half-closes. Iteration also ends (with a
    half-close) once `limit_s` seconds have passed, so no wait is unbounded.
    """

    _SENTINEL = object()

    def __init__(self, limit_s):
        self._queue = queue.Queue()
        self._end = time.monotonic() + limit_s

    def put(self, item):
        self._queue.put(item)

    def close(self):
        self._queue.put(self._SENTINEL)

    def __iter__(self):
        while time.monotonic() < self._end:
            try:
                item = self._queue.get(timeout=0.05)
            except queue.Empty:
                continue
            if item is self._SENTINEL:
                return
            yield item


class Cases:
    def __init__(self, channel, timeout, empty_pb2, messages_pb2, test_pb2_grpc):
        self.timeout = timeout
        self.empty_pb2 = empty_pb2
        self.m = messages_pb2
        self.stub = test_pb2_grpc.TestServiceStub(channel)
        self.unimplemented_stub = test_pb2_grpc.UnimplementedServiceStub(channel)

    # helpers ---------------------------------------------------------------

    def payload(self, size):
        return self.m.Payload(type=self.m.COMPRESSABLE, body=b"\0" * size)

    def streaming_request(self, response_size, payload_size):
        return self.m.StreamingOutputCallRequest(
            response_type=self.m.COMPRESSABLE,
            response_parameters=[self.m.ResponseParameters(size=response_size)],
            payload=self.payload(payload_size),
        )

    def check_payload(self, payload, size, what):
        check(
            len(payload.body) == size,
            "%s: payload of %d bytes, want %d" % (what, len(payload.body), size),
        )
        check(payload.body == b"\0" * size, "%s: payload is not all zero bytes" % what)

    def requests(self):
        return RequestQueue(self.timeout + 5)

    @staticmethod
    def expect_status(err, code, what, message=None):
        check(
            isinstance(err, grpc.RpcError),
            "%s: expected an RPC error with %s, got %r" % (what, code.name, err),
        )
        check(
            err.code() == code,
            "%s: status %s (%r), want %s" % (what, err.code(), err.details(), code.name),
        )
        if message is not None:
            check(
                err.details() == message,
                "%s: status message %r, want %r" % (what, err.details(), message),
            )

    # cases -----------------------------------------------------------------

    def empty_unary(self):
        response = self.stub.EmptyCall(self.empty_pb2.Empty(), timeout=self.timeout)
        check(isinstance(response, self.empty_pb2.Empty), "response is not Empty: %r" % response)

    def large_unary(self):
        request = self.m.SimpleRequest(
            response_type=self.m.COMPRESSABLE, response_size=314159, payload=self.payload(271828)
        )
        response = self.stub.UnaryCall(request, timeout=self.timeout)
        self.check_payload(response.payload, 314159, "response")

    def client_streaming(self):
        sizes = [27182, 8, 1828, 45904]
        requests = [self.m.StreamingInputCallRequest(payload=self.payload(s)) for s in sizes]
        response = self.stub.StreamingInputCall(iter(requests), timeout=self.timeout)
        check(
            response.aggregated_payload_size == 74922,
            "aggregated_payload_size %d, want 74922" % response.aggregated_payload_size,
        )

    def server_streaming(self):
        sizes = [31415, 9, 2653, 58979]
        request = self.m.StreamingOutputCallRequest(
            response_type=self.m.COMPRESSABLE,
            response_parameters=[self.m.ResponseParameters(size=s) for s in sizes],
        )
        responses = list(self.stub.StreamingOutputCall(request, timeout=self.timeout))
        check(len(responses) == len(sizes), "%d responses, want %d" % (len(responses), len(sizes)))
        for i, (response, size) in enumerate(zip(responses, sizes)):
            self.check_payload(response.payload, size, "response %d" % i)

    def ping_pong(self):
        pairs = [(31415, 27182), (9, 8), (2653, 1828), (58979, 45904)]
        requests = self.requests()
        call = self.stub.FullDuplexCall(iter(requests), timeout=self.timeout)
        try:
            for i, (response_size, payload_size) in enumerate(pairs):
                requests.put(self.streaming_request(response_size, payload_size))
                response = next(call, None)
                check(response is not None, "stream ended before response %d" % i)
                self.check_payload(response.payload, response_size, "response %d" % i)
            requests.close()
            rest = list(call)
            check(not rest, "%d unexpected extra responses" % len(rest))
            check(call.code() == grpc.StatusCode.OK, "status %s, want OK" % call.code())
        finally:
            requests.close()

    def empty_stream(self):
        requests = self.requests()
        requests.close()
        call = self.stub.FullDuplexCall(iter(requests), timeout=self.timeout)
        responses = list(call)
        check(not responses, "%d responses, want none" % len(responses))
        check(call.code() == grpc.StatusCode.OK, "status %s, want OK" % call.code())

    def _check_echo(self, initial, trailing, what):
        initial = list(initial or ())
        trailing = list(trailing or ())
        check(
            ECHO_INITIAL in initial,
            "%s: initial metadata %r lacks %r" % (what, initial, ECHO_INITIAL),
        )
        check(
            ECHO_TRAILING in trailing,
            "%s: trailing metadata %r lacks %r" % (what, trailing, ECHO_TRAILING),
        )

    def custom_metadata(self):
        metadata = (ECHO_INITIAL, ECHO_TRAILING)
        request = self.m.SimpleRequest(
            response_type=self.m.COMPRESSABLE, response_size=314159, payload=self.payload(271828)
        )
        response, call = self.stub.UnaryCall.with_call(
            request, metadata=metadata, timeout=self.timeout
        )
        self.check_payload(response.payload, 314159, "UnaryCall response")
        self._check_echo(call.initial_metadata(), call.trailing_metadata(), "UnaryCall")

        requests = self.requests()
        call = self.stub.FullDuplexCall(iter(requests), metadata=metadata, timeout=self.timeout)
        try:
            requests.put(self.streaming_request(314159, 271828))
            response = next(call, None)
            check(response is not None, "FullDuplexCall: stream ended without a response")
            self.check_payload(response.payload, 314159, "FullDuplexCall response")
            requests.close()
            rest = list(call)
            check(not rest, "FullDuplexCall: %d unexpected extra responses" % len(rest))
            check(call.code() == grpc.StatusCode.OK, "FullDuplexCall: status %s" % call.code())
            self._check_echo(call.initial_metadata(), call.trailing_metadata(), "FullDuplexCall")
        finally:
            requests.close()

    def _status_via_both(self, code, message, unary_only=False):
        status = self.m.EchoStatus(code=code, message=message)
        try:
            self.stub.UnaryCall(self.m.SimpleRequest(response_status=status), timeout=self.timeout)
            raise CaseFailure("UnaryCall succeeded, want status %d" % code)
        except grpc.RpcError as err:
            self.expect_status(err, grpc.StatusCode.UNKNOWN, "UnaryCall", message)
        if unary_only:
            return
        requests = self.requests()
        requests.put(self.m.StreamingOutputCallRequest(response_status=status))
        requests.close()
        call = self.stub.FullDuplexCall(iter(requests), timeout=self.timeout)
        try:
            responses = list(call)
            raise CaseFailure(
                "FullDuplexCall ended OK with %d responses, want status %d" % (len(responses), code)
            )
        except grpc.RpcError as err:
            self.expect_status(err, grpc.StatusCode.UNKNOWN, "FullDuplexCall", message)

    def status_code_and_message(self):
        self._status_via_both(2, "test status message")

    def special_status_message(self):
        self._status_via_both(2, SPECIAL_MESSAGE, unary_only=True)

    def unimplemented_method(self):
        try:
            self.stub.UnimplementedCall(self.empty_pb2.Empty(), timeout=self.timeout)
            raise CaseFailure("call succeeded, want UNIMPLEMENTED")
        except grpc.RpcError as err:
            self.expect_status(err, grpc.StatusCode.UNIMPLEMENTED, "UnimplementedCall")

    def unimplemented_service(self):
        try:
            self.unimplemented_stub.UnimplementedCall(self.empty_pb2.Empty(), timeout=self.timeout)
            raise CaseFailure("call succeeded, want UNIMPLEMENTED")
        except grpc.RpcError as err:
            self.expect_status(err, grpc.StatusCode.UNIMPLEMENTED, "UnimplementedService")

    def timeout_on_sleeping_server(self):
        requests = self.requests()
        requests.put(self.m.StreamingOutputCallRequest(payload=self.payload(27182)))
        call = self.stub.FullDuplexCall(iter(requests), timeout=0.001)
        try:
            responses = list(call)
            raise CaseFailure("FullDuplexCall ended OK with %d responses" % len(responses))
        except grpc.RpcError as err:
            self.expect_status(err, grpc.StatusCode.DEADLINE_EXCEEDED, "FullDuplexCall")
        finally:
            requests.close()

        # rgrpc extension: the server sleeps 20 s on x-interop-sleep-ms (less if the call
        # ends). Not a speed check: a client that waited for the answer would take 20 s.
        start = time.monotonic()
        try:
            self.stub.UnaryCall(
                self.m.SimpleRequest(), metadata=(("x-interop-sleep-ms", "20000"),), timeout=0.1
            )
            raise CaseFailure("sleeping UnaryCall succeeded, want DEADLINE_EXCEEDED")
        except grpc.RpcError as err:
            self.expect_status(err, grpc.StatusCode.DEADLINE_EXCEEDED, "sleeping UnaryCall")
        elapsed = time.monotonic() - start
        check(elapsed < 10.0, "sleeping UnaryCall took %.2fs to fail: it waited for the server" % elapsed)

    def cancel_after_begin(self):
        release = threading.Event()

        def blocked_requests():
            # Never sends anything; ends (bounded) once the case is over.
            release.wait(self.timeout + 5)
            return
            yield  # pragma: no cover  (makes this a generator)

        future = self.stub.StreamingInputCall.future(blocked_requests(), timeout=self.timeout)
        try:
            # Give the call a moment to reach the server so that the server
            # also sees the cancellation (an RPC cancelled before its headers
            # were written never reaches the server at all).
            time.sleep(0.05)
            future.cancel()
            check(future.cancelled(), "future not cancelled")
            code = future.code()
            check(code == grpc.StatusCode.CANCELLED, "status %s, want CANCELLED" % code)
        finally:
            release.set()

    def cancel_after_first_response(self):
        requests = self.requests()
        call = self.stub.FullDuplexCall(iter(requests), timeout=self.timeout)
        try:
            requests.put(self.streaming_request(31415, 27182))
            response = next(call, None)
            check(response is not None, "stream ended without a response")
            self.check_payload(response.payload, 31415, "response")
            call.cancel()
            code = call.code()
            check(code == grpc.StatusCode.CANCELLED, "status %s, want CANCELLED" % code)
            try:
                next(call)
                raise CaseFailure("read a response after cancel")
            except grpc.RpcError as err:
                self.expect_status(err, grpc.StatusCode.CANCELLED, "read after cancel")
            except StopIteration:
                raise CaseFailure("stream ended normally after cancel")
        finally:
            requests.close()

    def client_compressed_unary(self):
        def request(expect):
            return self.m.SimpleRequest(
                expect_compressed=self.m.BoolValue(value=expect),
                response_type=self.m.COMPRESSABLE,
                response_size=314159,
                payload=self.payload(271828),
            )

        # 1. The feature probe: an uncompressed message that says it is compressed.
        try:
            self.stub.UnaryCall(request(True), timeout=self.timeout)
            raise CaseFailure(
                "probe (uncompressed, expect_compressed=true) succeeded, want INVALID_ARGUMENT"
            )
        except grpc.RpcError as err:
            self.expect_status(err, grpc.StatusCode.INVALID_ARGUMENT, "probe")
        # 2. A compressed message.
        response = self.stub.UnaryCall(
            request(True), timeout=self.timeout, compression=grpc.Compression.Gzip
        )
        self.check_payload(response.payload, 314159, "compressed UnaryCall response")
        # 3. An uncompressed message.
        response = self.stub.UnaryCall(
            request(False), timeout=self.timeout, compression=grpc.Compression.NoCompression
        )
        self.check_payload(response.payload, 314159, "uncompressed UnaryCall response")

    def client_compressed_streaming(self):
        # 1. The feature probe: one uncompressed message that says it is compressed.
        probe = self.m.StreamingInputCallRequest(
            expect_compressed=self.m.BoolValue(value=True), payload=self.payload(27182)
        )
        try:
            self.stub.StreamingInputCall(
                iter([probe]), timeout=self.timeout, compression=grpc.Compression.NoCompression
            )
            raise CaseFailure(
                "probe (uncompressed, expect_compressed=true) succeeded, want INVALID_ARGUMENT"
            )
        except grpc.RpcError as err:
            self.expect_status(err, grpc.StatusCode.INVALID_ARGUMENT, "probe")
        # 2. A gzip call: the compressed message, then the second one -- which grpcio can
        # only send compressed too, so it does not claim expect_compressed: false (see the
        # module docstring).
        requests = [
            self.m.StreamingInputCallRequest(
                expect_compressed=self.m.BoolValue(value=True), payload=self.payload(27182)
            ),
            self.m.StreamingInputCallRequest(payload=self.payload(45904)),
        ]
        response = self.stub.StreamingInputCall(
            iter(requests), timeout=self.timeout, compression=grpc.Compression.Gzip
        )
        check(
            response.aggregated_payload_size == 73086,
            "aggregated_payload_size %d, want 73086" % response.aggregated_payload_size,
        )

    def server_compressed_unary(self):
        # The compressed flag of the responses cannot be observed with grpcio (see the
        # module docstring); sizes and contents are checked.
        for compressed in (True, False):
            request = self.m.SimpleRequest(
                response_compressed=self.m.BoolValue(value=compressed),
                response_type=self.m.COMPRESSABLE,
                response_size=314159,
                payload=self.payload(271828),
            )
            response = self.stub.UnaryCall(request, timeout=self.timeout)
            self.check_payload(
                response.payload, 314159, "response (response_compressed=%s)" % compressed
            )

    def server_compressed_streaming(self):
        sizes = [31415, 92653]
        request = self.m.StreamingOutputCallRequest(
            response_type=self.m.COMPRESSABLE,
            response_parameters=[
                self.m.ResponseParameters(compressed=self.m.BoolValue(value=True), size=31415),
                self.m.ResponseParameters(compressed=self.m.BoolValue(value=False), size=92653),
            ],
        )
        responses = list(self.stub.StreamingOutputCall(request, timeout=self.timeout))
        check(len(responses) == len(sizes), "%d responses, want %d" % (len(responses), len(sizes)))
        for i, (response, size) in enumerate(zip(responses, sizes)):
            self.check_payload(response.payload, size, "response %d" % i)


CASE_NAMES = [
    "empty_unary",
    "large_unary",
    "client_streaming",
    "server_streaming",
    "ping_pong",
    "empty_stream",
    "custom_metadata",
    "status_code_and_message",
    "special_status_message",
    "unimplemented_method",
    "unimplemented_service",
    "timeout_on_sleeping_server",
    "cancel_after_begin",
    "cancel_after_first_response",
    "client_compressed_unary",
    "client_compressed_streaming",
    "server_compressed_unary",
    "server_compressed_streaming",
]


def one_line(text):
    return str(text).replace("\r", "\\r").replace("\n", "\\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description="grpcio interop client (rgrpc harness)")
    parser.add_argument("--server_host", default="127.0.0.1")
    parser.add_argument("--server_port", type=int, required=True)
    parser.add_argument(
        "--test_case", default="all", help="case name, comma list, or 'all': " + ", ".join(CASE_NAMES)
    )
    parser.add_argument("--stubs", default=None, help="generated stubs dir (default: $INTEROP_STUBS, else <venv>/gen)")
    parser.add_argument("--timeout", type=float, default=20.0, help="per-RPC timeout in seconds (default 20)")
    args = parser.parse_args(argv)

    if args.test_case.strip() == "all":
        selected = list(CASE_NAMES)
    else:
        selected = [c.strip() for c in args.test_case.split(",") if c.strip()]
        unknown = [c for c in selected if c not in CASE_NAMES]
        if unknown or not selected:
            sys.stderr.write(
                "interop_client: unknown test case(s): %s\nknown cases: %s, all\n"
                % (", ".join(unknown) or "(none given)", ", ".join(CASE_NAMES))
            )
            return 2

    empty_pb2, messages_pb2, test_pb2_grpc = load_stubs(args.stubs)

    host = args.server_host
    if ":" in host and not host.startswith("["):
        host = "[%s]" % host
    target = "%s:%d" % (host, args.server_port)
    channel = grpc.insecure_channel(target)
    try:
        grpc.channel_ready_future(channel).result(timeout=10)
    except grpc.FutureTimeoutError:
        pass  # the cases will fail with the actual error

    cases = Cases(channel, args.timeout, empty_pb2, messages_pb2, test_pb2_grpc)
    failed = 0
    for name in selected:
        try:
            getattr(cases, name)()
            print("PASS %s" % name, flush=True)
        except CaseFailure as e:
            failed += 1
            print("FAIL %s: %s" % (name, one_line(e)), flush=True)
        except grpc.RpcError as e:
            failed += 1
            print("FAIL %s: unexpected RPC error %s: %s" % (name, e.code(), one_line(e.details())), flush=True)
        except Exception as e:  # noqa: BLE001
            failed += 1
            print("FAIL %s: %s: %s" % (name, type(e).__name__, one_line(e)), flush=True)
    channel.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""grpcio client for the standard services: server reflection and health.

Usage:
    VENV/bin/python standard_services_client.py --addr HOST:PORT [--stubs DIR] CASE...

Runs the cases in the order given and prints, for each, one JSON object per
line on stdout (flushed): ``{"case": NAME, "ok": true|false, ...details}``.
``health_watch`` prints two more lines before it (see below). A case that raises
prints ``"ok": false`` with ``"error"`` (and ``"code"`` / ``"details"`` for a
failed RPC). Exit code: 0 when every case ran (ok or not), 2 on bad usage
(no --addr, no case, an unknown case).

Every RPC has a 10 s deadline (but Watch: 30 s, see health_watch); every wait
is bounded by 10 s.

Stubs: the grpc.reflection.v1 stubs are loaded from ``--stubs DIR``, else
``$INTEROP_STUBS``, else ``<sys.prefix>/gen``, the dir setup_venv.sh fills (see
load_stubs); v1alpha reflection and health come from the grpcio-reflection and
grpcio-health-checking packages.

Cases ("ok" is what each one checks; the details are always printed):

reflection_v1alpha_list
    grpcio-reflection's own client (ProtoReflectionDescriptorDatabase
    .get_services(), a list_services request on grpc.reflection.v1alpha).
    ``services``: sorted names. ok: grpc.testing.TestService is among them.
reflection_v1alpha_pool
    A DescriptorPool over a ProtoReflectionDescriptorDatabase (v1alpha):
    finds grpc.testing.TestService. ``methods``: [{name, input, output,
    client_streaming, server_streaming}] in declaration order;
    ``simple_request_hex``: a SimpleRequest built from the pool's descriptor
    with GetMessageClass, response_size=7, payload.body=b"x", serialized;
    ``files``: sorted names of the files the pool loaded for the service (its
    file and all transitive dependencies); ``files_received``: the file names
    the server sent, in the order received; ``has_source_info``;
    ``unary_call_comment``: the leading comment of TestService.UnaryCall from
    the FileDescriptorProto's source_code_info, or null without source info.
    ok: UnaryCall is there with grpc.testing.SimpleRequest ->
    grpc.testing.SimpleResponse and the bytes are 10071a03120178.
reflection_v1_list
    list_services on one grpc.reflection.v1 stream. ``services``: sorted.
    ok: grpc.testing.TestService is among them.
reflection_v1_symbol
    Five requests on ONE grpc.reflection.v1 stream, each answered before the
    next is sent:
      1. file_containing_symbol grpc.testing.SimpleRequest -> ``symbol_files``
         (the file names of that one response, in the order sent);
      2. file_by_filename of the file that defines SimpleRequest (sent in 1)
         -> ``by_filename``, ``by_filename_files``;
      3. file_containing_symbol grpc.testing.TestService.UnaryCall (a method,
         i.e. a nested symbol) -> ``method_symbol``: {"files": [...]} or
         {error_code, error_code_name, error_message}; NOT part of ok, since
         grpcio's reflection answers NOT_FOUND for a method (its upb
         DescriptorPool.FindFileContainingSymbol does not find methods)
         although the reflection proto names ``<package>.<service>[.<method>]``
         as a valid symbol;
      4. file_containing_symbol no.such.Symbol -> ``unknown_symbol``:
         {error_code, error_code_name, error_message} of its error_response
         (or {"response": KIND} if it was not an error);
      5. list_services -> ``services_after_error`` (the stream survived it).
    ``original_request_echoed``: every response carried its request.
    ok: 1 has the file that defines SimpleRequest, 2 contains the requested
    file, 4 is an error_response with NOT_FOUND (5), 5 lists
    grpc.testing.TestService, and every response echoed its request.
health_check
    Check("") and Check("grpc.testing.TestService") -> ``statuses``
    {name: status name}; Check("no.such.Service") -> ``unknown``: {code,
    details} (code is the gRPC status code name; details may be null).
    ok: both SERVING and the unknown one NOT_FOUND.
health_watch
    Watch("grpc.testing.TestService"). As soon as the first message arrives,
    prints ``{"case": "health_watch", "event": "first", "status": NAME}``
    (no "ok"). Then reads one line from stdin (the harness sends "changing"),
    notes when, prints ``{"case": "health_watch", "event": "armed"}``, and waits
    for the next message: the harness changes the status only once it has read
    "armed". Prints ``{"case": "health_watch", "ok": ..., "first": NAME,
    "stdin": LINE, "second": NAME, "ms_after_change": MS}``, MS the milliseconds
    from reading the stdin line to that message: an upper bound on the delay
    from the change to the message (it also holds one pipe round trip), 0 if
    the message came first (a harness that changed the status too early).
    Each of the three waits is bounded by 10 s (the Watch's deadline is 30 s,
    and the call is cancelled at the end). ok: SERVING then NOT_SERVING.
health_list
    List() -> ``statuses`` {name: status name}. ok: the call succeeded and
    "" and grpc.testing.TestService are listed.
"""

import argparse
import importlib
import json
import os
import queue
import select
import sys
import threading
import time

import grpc

TIMEOUT_S = 10.0
TEST_SERVICE = "grpc.testing.TestService"

CASES = (
    "reflection_v1alpha_list",
    "reflection_v1alpha_pool",
    "reflection_v1_list",
    "reflection_v1_symbol",
    "health_check",
    "health_watch",
    "health_list",
)


def load_stubs(stubs_dir):
    """Imports the v1 reflection stubs from stubs_dir (setup_venv.sh generates them).

    As in interop_client.load_stubs, stubs_dir/grpc goes on grpc.__path__. But
    grpcio's grpc/__init__.py aliases ``grpc.reflection`` to the grpcio-reflection
    package (sys.modules["grpc.reflection"] is grpc_reflection) when that is
    installed, so stubs_dir/grpc/reflection also goes on that package's
    __path__; then ``grpc.reflection.v1`` (the import the generated
    reflection_pb2_grpc.py uses) is found in stubs_dir."""
    stubs_dir = stubs_dir or os.environ.get("INTEROP_STUBS") or os.path.join(sys.prefix, "gen")
    stubs_dir = os.path.abspath(stubs_dir)
    pkg_dir = os.path.join(stubs_dir, "grpc")
    if not os.path.isfile(os.path.join(pkg_dir, "reflection", "v1", "reflection_pb2_grpc.py")):
        sys.stderr.write(
            "standard_services: no grpc/reflection/v1 stubs in %s (run setup_venv.sh, "
            "or pass --stubs DIR / set INTEROP_STUBS)\n" % stubs_dir
        )
        sys.exit(2)
    if pkg_dir not in grpc.__path__:
        grpc.__path__.append(pkg_dir)
    # grpc_reflection (aliased), or else the namespace package stubs_dir/grpc/reflection.
    reflection_pkg = importlib.import_module("grpc.reflection")
    reflection_dir = os.path.join(pkg_dir, "reflection")
    if reflection_dir not in list(reflection_pkg.__path__):
        reflection_pkg.__path__.append(reflection_dir)
    from grpc.reflection.v1 import reflection_pb2, reflection_pb2_grpc  # noqa: E402

    return reflection_pb2, reflection_pb2_grpc


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def rpc_error_fields(err):
    code = err.code() if hasattr(err, "code") else None
    return {
        "code": code.name if code is not None else None,
        "details": err.details() if hasattr(err, "details") else None,
    }


class _CallDetails(grpc.ClientCallDetails):
    def __init__(self, base, timeout):
        self.method = base.method
        self.timeout = timeout
        self.metadata = base.metadata
        self.credentials = base.credentials
        self.wait_for_ready = getattr(base, "wait_for_ready", None)
        self.compression = getattr(base, "compression", None)


class DefaultDeadline(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Gives every call without a deadline one (grpcio-reflection's
    ProtoReflectionDescriptorDatabase sets none)."""

    def __init__(self, timeout):
        self._timeout = timeout

    def _details(self, d):
        return d if d.timeout is not None else _CallDetails(d, self._timeout)

    def intercept_unary_unary(self, continuation, d, request):
        return continuation(self._details(d), request)

    def intercept_unary_stream(self, continuation, d, request):
        return continuation(self._details(d), request)

    def intercept_stream_unary(self, continuation, d, request_iterator):
        return continuation(self._details(d), request_iterator)

    def intercept_stream_stream(self, continuation, d, request_iterator):
        return continuation(self._details(d), request_iterator)


class RequestStream:
    """Request iterator fed one request at a time (None ends the stream)."""

    def __init__(self):
        self._q = queue.Queue()

    def send(self, request):
        self._q.put(request)

    def close(self):
        self._q.put(None)

    def __iter__(self):
        return self

    def __next__(self):
        item = self._q.get()
        if item is None:
            raise StopIteration
        return item


# ---------------------------------------------------------------- reflection


def case_reflection_v1alpha_list(ctx):
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    db = ProtoReflectionDescriptorDatabase(ctx.channel_with_deadline)
    services = sorted(db.get_services())
    return {"ok": TEST_SERVICE in services, "services": services}


def leading_comment(file_proto, service_name, method_name):
    """The leading comment of service_name.method_name in file_proto, from
    source_code_info (path [6, service index, 2, method index]); None if the
    file has no source info or no such location."""
    if not file_proto.HasField("source_code_info"):
        return None
    for si, service in enumerate(file_proto.service):
        if service.name != service_name:
            continue
        for mi, method in enumerate(service.method):
            if method.name != method_name:
                continue
            for location in file_proto.source_code_info.location:
                if list(location.path) == [6, si, 2, mi]:
                    if location.HasField("leading_comments"):
                        return location.leading_comments
                    return None
    return None


def case_reflection_v1alpha_pool(ctx):
    from google.protobuf import descriptor_pool, message_factory
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

    received = []

    class RecordingDatabase(ProtoReflectionDescriptorDatabase):
        def Add(self, file_desc_proto):
            received.append(file_desc_proto.name)
            return super().Add(file_desc_proto)

    db = RecordingDatabase(ctx.channel_with_deadline)
    pool = descriptor_pool.DescriptorPool(db)
    service = pool.FindServiceByName(TEST_SERVICE)
    methods = []
    for m in service.methods:
        entry = {"name": m.name, "input": m.input_type.full_name, "output": m.output_type.full_name}
        for flag in ("client_streaming", "server_streaming"):
            if hasattr(m, flag):
                entry[flag] = bool(getattr(m, flag))
        methods.append(entry)

    cls = message_factory.GetMessageClass(pool.FindMessageTypeByName("grpc.testing.SimpleRequest"))
    msg = cls()
    msg.response_size = 7
    msg.payload.body = b"x"
    simple_hex = msg.SerializeToString().hex()

    files = set()
    todo = [service.file]
    while todo:
        f = todo.pop()
        if f.name in files:
            continue
        files.add(f.name)
        todo.extend(f.dependencies)

    file_proto = db.FindFileByName(service.file.name)
    has_source_info = file_proto.HasField("source_code_info") and len(file_proto.source_code_info.location) > 0
    comment = leading_comment(file_proto, service.name, "UnaryCall")

    unary = [m for m in methods if m["name"] == "UnaryCall"]
    ok = (
        len(unary) == 1
        and unary[0]["input"] == "grpc.testing.SimpleRequest"
        and unary[0]["output"] == "grpc.testing.SimpleResponse"
        and simple_hex == "10071a03120178"
    )
    return {
        "ok": ok,
        "service_file": service.file.name,
        "methods": methods,
        "simple_request_hex": simple_hex,
        "files": sorted(files),
        "files_received": received,
        "has_source_info": has_source_info,
        "unary_call_comment": comment,
    }


class V1Stream:
    """One grpc.reflection.v1 ServerReflectionInfo stream, one request at a time."""

    def __init__(self, ctx):
        self.pb2 = ctx.v1_pb2
        stub = ctx.v1_pb2_grpc.ServerReflectionStub(ctx.channel)
        self._requests = RequestStream()
        self._call = stub.ServerReflectionInfo(self._requests, timeout=TIMEOUT_S)
        self.echoed = True

    def ask(self, **fields):
        request = self.pb2.ServerReflectionRequest(**fields)
        self._requests.send(request)
        response = next(self._call)
        if response.original_request != request:
            self.echoed = False
        return response

    def close(self):
        self._requests.close()
        try:
            for _ in self._call:
                pass
        except grpc.RpcError:
            pass
        self._call.cancel()


def services_of(response):
    return sorted(s.name for s in response.list_services_response.service)


def parse_files(response):
    """FileDescriptorProtos of a file_descriptor_response (empty otherwise)."""
    from google.protobuf import descriptor_pb2

    out = []
    for raw in response.file_descriptor_response.file_descriptor_proto:
        fd = descriptor_pb2.FileDescriptorProto()
        fd.ParseFromString(raw)
        out.append(fd)
    return out


def error_fields(response):
    """{error_code, error_code_name, error_message} of an error_response, else
    {"response": the kind of response it was}."""
    if response.WhichOneof("message_response") != "error_response":
        return {"response": response.WhichOneof("message_response")}
    code = response.error_response.error_code
    names = [c.name for c in grpc.StatusCode if c.value[0] == code]
    return {
        "error_code": code,
        "error_code_name": names[0] if names else None,
        "error_message": response.error_response.error_message,
    }


def case_reflection_v1_list(ctx):
    stream = V1Stream(ctx)
    try:
        response = stream.ask(list_services="")
        kind = response.WhichOneof("message_response")
        services = services_of(response)
    finally:
        stream.close()
    out = {"ok": kind == "list_services_response" and TEST_SERVICE in services, "services": services}
    if kind != "list_services_response":
        out["response"] = kind
    return out


def case_reflection_v1_symbol(ctx):
    stream = V1Stream(ctx)
    try:
        r1 = parse_files(stream.ask(file_containing_symbol="grpc.testing.SimpleRequest"))
        defining = [f.name for f in r1 if f.package == "grpc.testing" and any(m.name == "SimpleRequest" for m in f.message_type)]
        by_name = defining[0] if defining else (r1[0].name if r1 else "grpc/testing/messages.proto")
        r2 = parse_files(stream.ask(file_by_filename=by_name))
        r3 = stream.ask(file_containing_symbol="grpc.testing.TestService.UnaryCall")
        r4 = stream.ask(file_containing_symbol="no.such.Symbol")
        r5 = stream.ask(list_services="")
        echoed = stream.echoed
    finally:
        stream.close()

    unknown = error_fields(r4)
    unknown_ok = unknown.get("error_code") == grpc.StatusCode.NOT_FOUND.value[0]
    if r3.WhichOneof("message_response") == "file_descriptor_response":
        method_symbol = {"files": [f.name for f in parse_files(r3)]}
    else:
        method_symbol = error_fields(r3)
    services_after = services_of(r5)
    ok = (
        bool(defining)
        and by_name in [f.name for f in r2]
        and unknown_ok
        and TEST_SERVICE in services_after
        and echoed
    )
    return {
        "ok": ok,
        "symbol_files": [f.name for f in r1],
        "by_filename": by_name,
        "by_filename_files": [f.name for f in r2],
        "method_symbol": method_symbol,
        "unknown_symbol": unknown,
        "services_after_error": services_after,
        "original_request_echoed": echoed,
    }


# -------------------------------------------------------------------- health


def status_name(value):
    from grpc_health.v1 import health_pb2

    return health_pb2.HealthCheckResponse.ServingStatus.Name(value)


def case_health_check(ctx):
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    stub = health_pb2_grpc.HealthStub(ctx.channel)
    statuses = {}
    for name in ("", TEST_SERVICE):
        response = stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=TIMEOUT_S)
        statuses[name] = status_name(response.status)
    try:
        response = stub.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=TIMEOUT_S)
        unknown = {"code": "OK", "details": None, "status": status_name(response.status)}
    except grpc.RpcError as err:
        unknown = rpc_error_fields(err)
    ok = statuses == {"": "SERVING", TEST_SERVICE: "SERVING"} and unknown["code"] == "NOT_FOUND"
    return {"ok": ok, "statuses": statuses, "unknown": unknown}


def read_line_bounded(timeout):
    """One line from stdin within timeout: (line, monotonic time read), or
    (None, None) on timeout / EOF."""
    deadline = time.monotonic() + timeout
    fd = sys.stdin.fileno()
    buf = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None, None
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            return None, None
        chunk = os.read(fd, 1)  # byte by byte: nothing after the line is consumed
        if not chunk:
            return None, None
        if chunk == b"\n":
            return buf.decode("utf-8", "replace"), time.monotonic()
        buf += chunk


def case_health_watch(ctx):
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    stub = health_pb2_grpc.HealthStub(ctx.channel)
    call = stub.Watch(health_pb2.HealthCheckRequest(service=TEST_SERVICE), timeout=3 * TIMEOUT_S)
    events = queue.Queue()

    def reader():
        try:
            for response in call:
                events.put(("message", time.monotonic(), status_name(response.status)))
            events.put(("end", time.monotonic(), "OK"))
        except grpc.RpcError as err:
            events.put(("end", time.monotonic(), rpc_error_fields(err)))

    thread = threading.Thread(target=reader, name="watch-reader", daemon=True)
    thread.start()
    out = {"ok": False}
    try:
        try:
            kind, _, value = events.get(timeout=TIMEOUT_S)
        except queue.Empty:
            out["error"] = "no first Watch message within %g s" % TIMEOUT_S
            return out
        if kind != "message":
            out["error"] = "Watch ended before its first message"
            out["end"] = value
            return out
        out["first"] = value
        emit({"case": "health_watch", "event": "first", "status": value})

        line, changed_at = read_line_bounded(TIMEOUT_S)
        if line is None:
            out["error"] = "no line on stdin within %g s (or stdin closed)" % TIMEOUT_S
            return out
        out["stdin"] = line.strip()
        emit({"case": "health_watch", "event": "armed"})
        try:
            kind, at, value = events.get(timeout=TIMEOUT_S)
        except queue.Empty:
            out["error"] = "no second Watch message within %g s of the stdin line" % TIMEOUT_S
            return out
        if kind != "message":
            out["error"] = "Watch ended before its second message"
            out["end"] = value
            return out
        out["second"] = value
        out["ms_after_change"] = round(max(0.0, (at - changed_at) * 1000.0), 3)
        out["ok"] = out["first"] == "SERVING" and value == "NOT_SERVING"
        return out
    finally:
        call.cancel()
        thread.join(TIMEOUT_S)


def case_health_list(ctx):
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    stub = health_pb2_grpc.HealthStub(ctx.channel)
    response = stub.List(health_pb2.HealthListRequest(), timeout=TIMEOUT_S)
    statuses = {k: status_name(v.status) for k, v in sorted(response.statuses.items())}
    return {"ok": "" in statuses and TEST_SERVICE in statuses, "statuses": statuses}


# ---------------------------------------------------------------------- main


class Context:
    def __init__(self, addr, v1_pb2, v1_pb2_grpc):
        self.channel = grpc.insecure_channel(addr)
        self.channel_with_deadline = grpc.intercept_channel(self.channel, DefaultDeadline(TIMEOUT_S))
        self.v1_pb2 = v1_pb2
        self.v1_pb2_grpc = v1_pb2_grpc

    def close(self):
        self.channel.close()


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="grpcio client for server reflection (v1, v1alpha) and health (v1)",
        epilog="cases: " + ", ".join(CASES),
    )
    parser.add_argument("--addr", required=True, help="server address, HOST:PORT")
    parser.add_argument("--stubs", default=None, help="generated stubs dir (default: $INTEROP_STUBS, else <venv>/gen)")
    parser.add_argument("cases", nargs="+", metavar="CASE")
    args = parser.parse_args(argv)
    unknown = [c for c in args.cases if c not in CASES]
    if unknown:
        parser.print_usage(sys.stderr)
        sys.stderr.write(
            "standard_services_client: unknown case(s): %s (known: %s)\n" % (", ".join(unknown), ", ".join(CASES))
        )
        return 2

    v1_pb2, v1_pb2_grpc = load_stubs(args.stubs)
    ctx = Context(args.addr, v1_pb2, v1_pb2_grpc)
    try:
        for case in args.cases:
            try:
                result = globals()["case_" + case](ctx)
            except grpc.RpcError as err:
                result = {"ok": False, "error": "RPC failed"}
                result.update(rpc_error_fields(err))
            except Exception as err:  # noqa: BLE001 - reported, then the next case runs
                result = {"ok": False, "error": "%s: %s" % (type(err).__name__, err)}
            emit(dict({"case": case}, **result))
    finally:
        ctx.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""grpcio control server for standard_services_client.py (reflection + health).

Usage:
    VENV/bin/python standard_services_server.py [--stubs DIR]

Serves on 127.0.0.1 (a free port) and prints ``listening on 127.0.0.1:PORT``
on stdout (flushed) once it is listening; its only other stdout lines are the
answers to stdin commands (below). It serves:

* grpc.testing.TestService: the servicer of interop_server.py, reused as is
  (no observations log);
* grpc.reflection.v1alpha.ServerReflection: grpcio-reflection's
  ``enable_server_reflection``, over the default descriptor pool (which holds
  no source info: protoc's Python stubs embed descriptors without comments),
  listing the four services here;
* grpc.reflection.v1.ServerReflection: grpcio-reflection 1.85.1 serves v1alpha
  only, so the same servicer is also registered under the v1 service name with
  the v1 stubs that setup_venv.sh generates (the two protos are the same on
  the wire; requests and responses are converted by re-parsing their bytes);
* grpc.health.v1.Health: grpcio-health-checking's ``HealthServicer`` with ""
  and grpc.testing.TestService SERVING, plus ``List`` (the 1.85.1 servicer
  implements only Check and Watch; its stubs do have List).

stdin, one command per line:
    set SERVICE STATUS    STATUS is SERVING, NOT_SERVING, UNKNOWN or
                          SERVICE_UNKNOWN; SERVICE "" is written as ''.
                          Answers ``ok set SERVICE STATUS`` on stdout (flushed)
                          after the status is set and every Watch was sent it,
                          or ``error <reason>``.
The server stops (grace 1 s) when stdin closes, or on SIGTERM / SIGINT; exit 0.

Stubs: the generated stubs are loaded from ``--stubs DIR``, else from
``$INTEROP_STUBS``, else from ``<sys.prefix>/gen``, as by interop_server.py
(grpc.testing) and standard_services_client.py (grpc.reflection.v1).

Known limit of grpcio's reflection (not of this script): file_containing_symbol
of a method (grpc.testing.TestService.UnaryCall) answers NOT_FOUND.
"""

import argparse
import os
import signal
import sys
import threading
from concurrent import futures

import grpc

SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))
if SCRIPT_DIR not in sys.path:
    sys.path.insert(0, SCRIPT_DIR)

import interop_server  # noqa: E402  (the TestService servicer and load_stubs)
import standard_services_client  # noqa: E402  (load_stubs for the v1 reflection stubs)



def make_v1_reflection_servicer(v1_pb2, v1_pb2_grpc, v1alpha_servicer):
    """A v1 ServerReflection servicer that delegates to grpcio's v1alpha one."""
    from grpc_reflection.v1alpha import reflection_pb2 as v1alpha_pb2

    class V1Reflection(v1_pb2_grpc.ServerReflectionServicer):
        def ServerReflectionInfo(self, request_iterator, context):
            alpha_requests = (
                v1alpha_pb2.ServerReflectionRequest.FromString(r.SerializeToString())
                for r in request_iterator
            )
            for alpha_response in v1alpha_servicer.ServerReflectionInfo(alpha_requests, context):
                yield v1_pb2.ServerReflectionResponse.FromString(alpha_response.SerializeToString())

    return V1Reflection()


def make_health_servicer():
    from grpc_health.v1 import health, health_pb2

    class Health(health.HealthServicer):
        """grpcio's HealthServicer plus List (over a copy of the statuses it was set)."""

        def __init__(self):
            super().__init__()
            self._list_lock = threading.Lock()
            self._list_statuses = {health.OVERALL_HEALTH: health_pb2.HealthCheckResponse.SERVING}

        def set(self, service, status):
            super().set(service, status)
            with self._list_lock:
                self._list_statuses[service] = status

        def List(self, request, context):
            with self._list_lock:
                statuses = dict(self._list_statuses)
            return health_pb2.HealthListResponse(
                statuses={k: health_pb2.HealthCheckResponse(status=v) for k, v in statuses.items()}
            )

    return Health()


def main(argv=None):
    parser = argparse.ArgumentParser(description="grpcio reflection + health control server")
    parser.add_argument("--stubs", default=None, help="generated stubs dir (default: $INTEROP_STUBS, else <venv>/gen)")
    args = parser.parse_args(argv)

    empty_pb2, messages_pb2, test_pb2_grpc = interop_server.load_stubs(args.stubs)
    v1_pb2, v1_pb2_grpc = standard_services_client.load_stubs(args.stubs)
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection
    # test_pb2_grpc imports only the messages' modules: without test_pb2, test.proto
    # (and so TestService) would not be in the default pool that reflection serves.
    from grpc.testing import test_pb2

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))

    servicer = interop_server.make_servicer(empty_pb2, messages_pb2, test_pb2_grpc)(interop_server.ObservationLog(None))
    test_pb2_grpc.add_TestServiceServicer_to_server(servicer, server)

    test_service = test_pb2.DESCRIPTOR.services_by_name["TestService"].full_name
    health_servicer = make_health_servicer()
    health_servicer.set(test_service, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)

    v1_name = v1_pb2.DESCRIPTOR.services_by_name["ServerReflection"].full_name
    names = (test_service, health.SERVICE_NAME, reflection.SERVICE_NAME, v1_name)
    reflection.enable_server_reflection(names, server)
    v1_pb2_grpc.add_ServerReflectionServicer_to_server(
        make_v1_reflection_servicer(v1_pb2, v1_pb2_grpc, reflection.ReflectionServicer(names)), server
    )

    port = server.add_insecure_port("127.0.0.1:0")
    if port == 0:
        sys.stderr.write("standard_services_server: cannot listen on 127.0.0.1\n")
        return 1

    stop = threading.Event()
    out_lock = threading.Lock()

    def say(line):
        with out_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def read_commands():
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            if len(words) == 3 and words[0] == "set":
                service = "" if words[1] == "''" else words[1]
                status = health_pb2.HealthCheckResponse.ServingStatus.Value(words[2]) if words[2] in (
                    "UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"
                ) else None
                if status is None:
                    say("error unknown status %s" % words[2])
                    continue
                health_servicer.set(service, status)
                say("ok set %s %s" % (words[1], words[2]))
            else:
                say("error unknown command %r" % line.strip())
        stop.set()  # stdin closed

    server.start()
    say("listening on 127.0.0.1:%d" % port)
    threading.Thread(target=read_commands, name="stdin", daemon=True).start()

    while not stop.wait(0.5):
        pass
    server.stop(grace=1).wait(5)
    return 0


if __name__ == "__main__":
    sys.exit(main())

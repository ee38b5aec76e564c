import pytest


@pytest.fixture
def grpc_port(transactional_db):
    """The OTLP/gRPC receiver in this process on a free port. Its pool threads close their database connection
    after each RPC here (CONN_MAX_AGE 0), so none is left open on the test database when the test ends."""
    from django.db import connections

    from traces import grpc_server

    default = connections.settings["default"]
    saved = default.get("CONN_MAX_AGE")
    default["CONN_MAX_AGE"] = 0
    server, port = grpc_server.server_create("127.0.0.1:0")
    yield port
    server.stop(grace=None).wait()
    default["CONN_MAX_AGE"] = saved

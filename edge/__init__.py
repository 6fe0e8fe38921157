"""The edge: HTTP/JSON in front of the gRPC services, driven by ``google.api.http`` annotations.

It holds no business logic. Routes, path/query/body mapping and the OpenAPI document are
all derived from the service descriptors at startup (grpc-gateway's model), so adding an
annotated RPC to a proto exposes it here without touching this package. The few handlers
that HTTP needs and a JSON body cannot carry plug in as overrides (see :mod:`edge.app`).
"""

"""The kit every process of the media service runs with.

Settings, JSON logging, request context, session JWTs, the gRPC server bootstrap and
its interceptors, the database session factory and the shared error categories. No
domain rules live here: a rule that belongs to one service lives in that service.
"""

"""The kit every process of the media service runs with.

Settings, JSON logging, request context, session JWTs, the gRPC server bootstrap and
its interceptors, the database session factory, the shared error categories, and the
one reader of ffprobe's output (:mod:`service_kit.ffprobe`). No domain rules live
here: a rule that belongs to one service lives in that service; a reader of an
external format is not a rule, and is kept once so that services read alike.
"""

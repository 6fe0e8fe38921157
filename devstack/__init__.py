"""Development stack: the infrastructure `make run` and the test suite stand on.

PostgreSQL, Redis and SeaweedFS are reused when already reachable and otherwise started
privately, on free loopback ports, with state under a directory the caller chooses. Nothing
in the services imports this package; tests/conftest.py and ``python -m devstack`` do.
"""

from __future__ import annotations

from devstack._process import free_port

ZOOM_STANDIN_PORT = 9190
"""Where `make run` starts the Zoom stand-in (the Procfile's zoom line says the same)."""

__all__ = ["ZOOM_STANDIN_PORT", "free_port"]

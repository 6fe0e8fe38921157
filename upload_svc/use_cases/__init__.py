"""What each UploadService RPC decides, between the servicer (proto) and the ports (I/O).

- :mod:`.uploads`: create, presign and list parts, complete (verify, probe, fail or hand
  off to transcode_svc), abort, read and watch one upload.
- :mod:`.videos`: the catalog: list, read, change and delete videos.

Each use case is made once in ``serve()`` over its ports (:mod:`.ports`) and is called
by tests over fakes (``tests/upload/fakes.py``), without a server.
"""

from upload_svc.use_cases.ports import StoreFailed, UnitOfWork, UnitOfWorkFactory

__all__ = ["StoreFailed", "UnitOfWork", "UnitOfWorkFactory"]

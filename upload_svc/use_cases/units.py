"""Opening a unit of work the way every upload_svc use case does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from upload_svc import errors
from upload_svc.use_cases.ports import StoreFailed, UnitOfWork, UnitOfWorkFactory

CATALOG_DOWN = "the video catalog's database is unavailable; nothing was changed: try again shortly"


@asynccontextmanager
async def opened(uow: UnitOfWorkFactory) -> AsyncIterator[UnitOfWork]:
    """A unit of work whose StoreFailed (read, write or commit) leaves as CatalogUnavailable (503).

    The transaction is rolled back first, so a caller told 503 knows nothing was half written.
    """
    try:
        async with uow() as work:
            yield work
    except StoreFailed as failed:
        raise errors.CatalogUnavailable(CATALOG_DOWN) from failed

"""lti_svc's use cases: what each RPC decides, between the servicer and the store.

So far the registrations (create with endpoint discovery, read, list, change, delete,
and their Zoom credentials) and personal API tokens; the other RPCs still call domain and store from the
servicer and move here as they are touched. Use cases import no grpc and no database
driver, so the tests run them against fakes of the ports (``tests/lti/fakes.py``).

- :mod:`.ports`: the interfaces the use cases need (unit of work, endpoint finder, sealer)
- :mod:`.registrations`: platform registrations and their Zoom credentials
- :mod:`.api_tokens`: personal API tokens (create, list, revoke, and the edge's resolve)
"""

from lti_svc.use_cases.ports import Conflict, UnitOfWork, UnitOfWorkFactory
from lti_svc.use_cases.registrations import (
    NewRegistration,
    PlatformRegistrations,
    RegistrationPage,
    RegistrationView,
)

__all__ = [
    "Conflict",
    "NewRegistration",
    "PlatformRegistrations",
    "RegistrationPage",
    "RegistrationView",
    "UnitOfWork",
    "UnitOfWorkFactory",
]

"""lti_svc's use cases: what each RPC decides, between the servicer and the store, Redis and the platforms.

Every RPC has one. Use cases import no grpc, no database or Redis driver and no HTTP
client, so the tests run them against fakes of the ports (``tests/lti/fakes.py``).

- :mod:`.ports`: the interfaces the use cases need (unit of work, Redis's login states,
  deep-linking launches and invitations, the platforms, the tool's keys, the sealer)
- :mod:`.registrations`: platform registrations and their Zoom credentials
- :mod:`.api_tokens`: personal API tokens (create, list, revoke, and the edge's resolve)
- :mod:`.launches`: OIDC login, launch, the browser's form post, session refresh, deep linking, the JWKS
- :mod:`.advantage`: a course's roster, gradebook columns and scores (LTI Advantage)
- :mod:`.dynamic_registration`: registration invitations and LTI Dynamic Registration
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

"""LTI 1.3 rules as plain functions: registrations, login state, launch checks, roles,
deep linking, Names and Roles, grades, tool-key rotation and dynamic registration.

Nothing here does I/O: the servicer fetches keys, reads Redis and PostgreSQL and calls
platforms, then hands the facts to these functions, so every check of a launch is a
plain call in a test. Times are whole seconds since the epoch, passed in (``now``).

Claims this tool does not know are ignored, never errors: platforms add their own
(Canvas, Moodle and D2L all do), and LTI says tools must tolerate them.

The rules live in one module per seam; this package re-exports them all, so callers
write ``domain.check_launch_claims`` whichever module holds it:

- :mod:`.spec`: names from the LTI 1.3 / Advantage specifications
- :mod:`.roles`: LTI role URIs to session roles
- :mod:`.registrations`: a platform registration and the validity of its fields
- :mod:`.platform_endpoints`: a platform's endpoints found from its issuer (discovery, known LMSs)
- :mod:`.access`: who may manage registrations, read rosters and grades, or get secrets
- :mod:`.login`: OIDC login initiation, its state and nonce
- :mod:`.launch`: the id_token's signature and claims, state and nonce checks
- :mod:`.deep_linking`: Deep Linking 2.0 settings, context and response
- :mod:`.advantage`: the client-credentials grant, Names and Roles, Assignment and Grade Services
- :mod:`.key_rotation`: rotation of the tool's own keys
- :mod:`.dynamic_registration`: LTI Dynamic Registration
"""

from lti_svc.domain.access import (
    SERVICE_ROLE,
    require_administrator,
    require_course_staff,
    require_service_caller,
)
from lti_svc.domain.advantage import (
    ACTIVITY_PROGRESS,
    GRADING_PROGRESS,
    Member,
    client_assertion_claims,
    decode_offset,
    encode_offset,
    iso_timestamp,
    line_item_document,
    next_link,
    page_size,
    parse_members,
    score_document,
    scores_url,
    token_request_form,
)
from lti_svc.domain.deep_linking import (
    DeepLinkingContext,
    DeepLinkingRequest,
    PickedItem,
    content_items,
    deep_linking_response_claims,
)
from lti_svc.domain.dynamic_registration import (
    PlatformConfiguration,
    read_platform_configuration,
    read_registration_answer,
    tool_registration_document,
)
from lti_svc.domain.key_rotation import (
    RotationPlan,
    RotationPolicy,
    ToolKey,
    plan_rotation,
    signing_key,
)
from lti_svc.domain.launch import (
    Launch,
    UnverifiedToken,
    check_launch_claims,
    check_nonce_fresh,
    check_state_matches,
    client_id_of,
    no_platform_key,
    read_unverified,
    select_jwk,
    verify_signature,
)
from lti_svc.domain.login import (
    LoginState,
    authorization_redirect,
    check_target_link_uri,
    new_secret_token,
    origin_of,
    validate_login,
)
from lti_svc.domain.platform_endpoints import (
    ENDPOINT_FIELDS,
    EndpointSource,
    FoundEndpoints,
    ResolvedEndpoints,
    discovery_url,
    is_key_set,
    known_shared_issuer,
    read_discovery_document,
    require_launch_endpoints,
    resolve_endpoints,
    site_probes,
)
from lti_svc.domain.registrations import (
    CONFIG_URL_FIELDS,
    UPDATABLE_FIELDS,
    Registration,
    check_url,
    validate_config,
)
from lti_svc.domain.roles import (
    map_roles,
)
from lti_svc.domain.sessions import Renewal, renew_session
from lti_svc.domain.spec import (
    CLAIM_AGS,
    CLAIM_CONTEXT,
    CLAIM_CUSTOM,
    CLAIM_DEPLOYMENT_ID,
    CLAIM_DL_CONTENT_ITEMS,
    CLAIM_DL_DATA,
    CLAIM_DL_MSG,
    CLAIM_DL_SETTINGS,
    CLAIM_MESSAGE_TYPE,
    CLAIM_NRPS,
    CLAIM_RESOURCE_LINK,
    CLAIM_ROLES,
    CLAIM_TARGET_LINK_URI,
    CLAIM_VERSION,
    CLIENT_ASSERTION_TYPE,
    DEEP_LINKING_REQUEST,
    DEEP_LINKING_RESPONSE,
    LTI_VERSION,
    MEDIA_TYPE_LINE_ITEM,
    MEDIA_TYPE_LINE_ITEMS,
    MEDIA_TYPE_MEMBERSHIPS,
    MEDIA_TYPE_SCORE,
    MESSAGE_TYPES,
    PLATFORM_CONFIGURATION,
    RESOURCE_LINK_REQUEST,
    SCOPE_AGS_LINEITEM,
    SCOPE_AGS_LINEITEM_READONLY,
    SCOPE_AGS_RESULT_READONLY,
    SCOPE_AGS_SCORE,
    SCOPE_NRPS,
    SIGNING_ALGORITHM,
    TOOL_CONFIGURATION,
    TOOL_SCOPES,
)

__all__ = [
    "ACTIVITY_PROGRESS",
    "CLAIM_AGS",
    "CLAIM_CONTEXT",
    "CLAIM_CUSTOM",
    "CLAIM_DEPLOYMENT_ID",
    "CLAIM_DL_CONTENT_ITEMS",
    "CLAIM_DL_DATA",
    "CLAIM_DL_MSG",
    "CLAIM_DL_SETTINGS",
    "CLAIM_MESSAGE_TYPE",
    "CLAIM_NRPS",
    "CLAIM_RESOURCE_LINK",
    "CLAIM_ROLES",
    "CLAIM_TARGET_LINK_URI",
    "CLAIM_VERSION",
    "CLIENT_ASSERTION_TYPE",
    "CONFIG_URL_FIELDS",
    "DEEP_LINKING_REQUEST",
    "DEEP_LINKING_RESPONSE",
    "ENDPOINT_FIELDS",
    "GRADING_PROGRESS",
    "LTI_VERSION",
    "MEDIA_TYPE_LINE_ITEM",
    "MEDIA_TYPE_LINE_ITEMS",
    "MEDIA_TYPE_MEMBERSHIPS",
    "MEDIA_TYPE_SCORE",
    "MESSAGE_TYPES",
    "PLATFORM_CONFIGURATION",
    "RESOURCE_LINK_REQUEST",
    "SCOPE_AGS_LINEITEM",
    "SCOPE_AGS_LINEITEM_READONLY",
    "SCOPE_AGS_RESULT_READONLY",
    "SCOPE_AGS_SCORE",
    "SCOPE_NRPS",
    "SERVICE_ROLE",
    "SIGNING_ALGORITHM",
    "TOOL_CONFIGURATION",
    "TOOL_SCOPES",
    "UPDATABLE_FIELDS",
    "DeepLinkingContext",
    "DeepLinkingRequest",
    "EndpointSource",
    "FoundEndpoints",
    "Launch",
    "LoginState",
    "Member",
    "PickedItem",
    "PlatformConfiguration",
    "Registration",
    "Renewal",
    "ResolvedEndpoints",
    "RotationPlan",
    "RotationPolicy",
    "ToolKey",
    "UnverifiedToken",
    "authorization_redirect",
    "check_launch_claims",
    "check_nonce_fresh",
    "check_state_matches",
    "check_target_link_uri",
    "check_url",
    "client_assertion_claims",
    "client_id_of",
    "content_items",
    "decode_offset",
    "deep_linking_response_claims",
    "discovery_url",
    "encode_offset",
    "is_key_set",
    "iso_timestamp",
    "known_shared_issuer",
    "line_item_document",
    "map_roles",
    "new_secret_token",
    "next_link",
    "no_platform_key",
    "origin_of",
    "page_size",
    "parse_members",
    "plan_rotation",
    "read_discovery_document",
    "read_platform_configuration",
    "read_registration_answer",
    "read_unverified",
    "renew_session",
    "require_administrator",
    "require_course_staff",
    "require_launch_endpoints",
    "require_service_caller",
    "resolve_endpoints",
    "score_document",
    "scores_url",
    "select_jwk",
    "signing_key",
    "site_probes",
    "token_request_form",
    "tool_registration_document",
    "validate_config",
    "validate_login",
    "verify_signature",
]

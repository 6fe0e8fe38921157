"""Names from the LTI 1.3 / Advantage specifications, shared by every other rule module.

Claim URIs, message types, scopes and media types are spelled once here so the launch
checks, deep linking, the Advantage services and dynamic registration cannot drift apart.
"""

from __future__ import annotations

from typing import Any

# ---- names from the LTI 1.3 / Advantage specifications ------------------------------------------

LTI_VERSION = "1.3.0"
_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
CLAIM_MESSAGE_TYPE = _CLAIM + "message_type"
CLAIM_VERSION = _CLAIM + "version"
CLAIM_DEPLOYMENT_ID = _CLAIM + "deployment_id"
CLAIM_TARGET_LINK_URI = _CLAIM + "target_link_uri"
CLAIM_RESOURCE_LINK = _CLAIM + "resource_link"
CLAIM_ROLES = _CLAIM + "roles"
CLAIM_CONTEXT = _CLAIM + "context"
CLAIM_CUSTOM = _CLAIM + "custom"
CLAIM_LAUNCH_PRESENTATION = _CLAIM + "launch_presentation"
CLAIM_DL_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
CLAIM_DL_CONTENT_ITEMS = "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
CLAIM_DL_DATA = "https://purl.imsglobal.org/spec/lti-dl/claim/data"
CLAIM_DL_MSG = "https://purl.imsglobal.org/spec/lti-dl/claim/msg"
CLAIM_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
CLAIM_AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"

RESOURCE_LINK_REQUEST = "LtiResourceLinkRequest"
DEEP_LINKING_REQUEST = "LtiDeepLinkingRequest"
DEEP_LINKING_RESPONSE = "LtiDeepLinkingResponse"
MESSAGE_TYPES = (RESOURCE_LINK_REQUEST, DEEP_LINKING_REQUEST)

SCOPE_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
SCOPE_AGS_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_AGS_LINEITEM_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_AGS_RESULT_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCOPE_AGS_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
TOOL_SCOPES = (SCOPE_AGS_LINEITEM, SCOPE_AGS_LINEITEM_READONLY, SCOPE_AGS_RESULT_READONLY, SCOPE_AGS_SCORE, SCOPE_NRPS)

MEDIA_TYPE_LINE_ITEM = "application/vnd.ims.lis.v2.lineitem+json"
MEDIA_TYPE_LINE_ITEMS = "application/vnd.ims.lis.v2.lineitemcontainer+json"
MEDIA_TYPE_SCORE = "application/vnd.ims.lis.v1.score+json"
MEDIA_TYPE_MEMBERSHIPS = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"

SIGNING_ALGORITHM = "RS256"
"""The only algorithm accepted from platforms: ``none`` and HMAC (which a public key would key) are refused."""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""

"""``python -m service_kit.token``: mint a session JWT for an operator or a local try-out.

An LTI launch is how users get a session; operators (and a newcomer trying the API with
curl before any LMS is registered) need one without an LMS. The token is signed with
the JWT_SECRET_KEY of the environment or .env, exactly as a launch would sign it.
"""

from __future__ import annotations

import argparse
import sys

from service_kit.auth import issue_session_token
from service_kit.settings import SettingsError, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print a session JWT (Authorization: Bearer <token>).")
    parser.add_argument("--user-id", default="operator", help="the sub claim (default: operator)")
    parser.add_argument("--organization-id", required=True, help="the org claim: whose data the caller sees")
    parser.add_argument("--course-id", help="the ctx claim: the course (LTI context) the caller acts in")
    parser.add_argument(
        "--role",
        action="append",
        dest="roles",
        default=None,
        help="a short LTI role name (Instructor, Learner, Administrator, ...); repeat for several",
    )
    parser.add_argument("--ttl-seconds", type=int, help="lifetime (default: SESSION_TOKEN_TTL_SECONDS)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    ttl = args.ttl_seconds or settings.session_token_ttl_seconds
    if ttl <= 0:
        parser.error("--ttl-seconds must be positive")
    print(
        issue_session_token(
            settings.jwt_secret_key,
            user_id=args.user_id,
            organization_id=args.organization_id,
            course_id=args.course_id,
            roles=args.roles or ["Instructor"],
            ttl_seconds=ttl,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

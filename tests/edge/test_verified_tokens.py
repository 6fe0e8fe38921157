"""The edge remembers verified HLS tokens: later requests re-check only the expiry, and answer as before."""

from __future__ import annotations

import pytest

from edge.hls import VerifiedTokens
from playback_svc import domain
from playback_svc.errors import ExpiredHlsToken, InvalidHlsToken, TokenForAnotherVideo

SECRET = "h" * 40
NOW = 1_800_000_000


def token(video_id: str = "video-1", expires_at: int = NOW + 60) -> str:
    return domain.mint_token(SECRET, user_id="learner", video_id=video_id, expires_at=expires_at)


def test_a_remembered_token_still_expires_with_the_same_error_as_a_fresh_check() -> None:
    tokens = VerifiedTokens()
    text = token()
    assert tokens.verify(SECRET, text, video_id="video-1", now=NOW).user_id == "learner"
    assert tokens.verify(SECRET, text, video_id="video-1", now=NOW + 59).expires_at == NOW + 60
    with pytest.raises(ExpiredHlsToken):
        tokens.verify(SECRET, text, video_id="video-1", now=NOW + 60)
    assert len(tokens) == 0


def test_a_remembered_token_opens_no_other_video_nor_under_another_secret() -> None:
    tokens = VerifiedTokens()
    text = token()
    tokens.verify(SECRET, text, video_id="video-1", now=NOW)
    with pytest.raises(TokenForAnotherVideo):
        tokens.verify(SECRET, text, video_id="video-2", now=NOW)
    with pytest.raises(InvalidHlsToken):
        tokens.verify("k" * 40, text, video_id="video-1", now=NOW)
    with pytest.raises(InvalidHlsToken):
        tokens.verify(SECRET, text[:-2] + ("A" if text[-2] != "A" else "B") + text[-1], video_id="video-1", now=NOW)
    assert len(tokens) == 1


def test_the_remembered_tokens_are_bounded() -> None:
    tokens = VerifiedTokens(max_entries=3)
    for n in range(7):
        tokens.verify(SECRET, token(expires_at=NOW + 60 + n), video_id="video-1", now=NOW)
        assert len(tokens) <= 3

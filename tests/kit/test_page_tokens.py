"""Keyset page tokens, the one helper attendance_svc and lti_svc list their pages with."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from service_kit import paging
from service_kit.errors import InvalidArgument

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


class NotOurs(InvalidArgument):
    reason = "TEST_INVALID_PAGE_TOKEN"


def rows(count: int) -> list[tuple[datetime, uuid.UUID]]:
    return [(T0 + timedelta(minutes=i), uuid.UUID(int=i + 1)) for i in range(count)]


def test_a_full_page_names_its_last_row_and_the_next_page_starts_after_it() -> None:
    listed = rows(4)
    page, token = paging.keyset_page(listed, 3, lambda row: row)
    assert page == listed[:3]
    assert paging.decode_cursor(token, invalid=NotOurs) == listed[2]


def test_the_last_page_has_no_token() -> None:
    listed = rows(3)
    assert paging.keyset_page(listed, 3, lambda row: row) == (listed, "")
    assert paging.keyset_page([], 3, lambda row: row) == ([], "")


def test_no_token_means_the_first_page() -> None:
    assert paging.decode_cursor("", invalid=NotOurs) is None


def test_a_token_issued_before_the_helper_existed_still_reads() -> None:
    issued = "WyIyMDI2LTAzLTAyVDE0OjAwOjAwKzAwOjAwIiwgIjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMSJd"
    assert paging.decode_cursor(issued, invalid=NotOurs) == (T0, uuid.UUID(int=1))
    assert paging.encode_cursor((T0, uuid.UUID(int=1))) == issued


@pytest.mark.parametrize("token", ["not base64!", "bm90IGpzb24", "WzFd", "WyJ4IiwgInkiXQ", "MTI"])
def test_a_token_not_issued_here_is_the_services_own_error(token: str) -> None:
    with pytest.raises(NotOurs) as raised:
        paging.decode_cursor(token, invalid=NotOurs)
    assert raised.value.message == "page_token is not one this service issued: start from the first page"

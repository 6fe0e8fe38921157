"""The deep-linking picker's form, read into content items (``edge.lti_pages.picked_items``): no I/O."""

from __future__ import annotations

import pytest

from edge.errors import EdgeError
from edge.lti_pages import picked_items
from media.lti.v1 import lti_pb2


def test_each_picked_card_becomes_a_resource_link_with_its_own_title_in_form_order() -> None:
    fields = {"title.video:v-1": " Week 1 ", "title.live:s-9": "Office hour", "title": "Lecture media"}
    items = picked_items(fields, ["video:v-1", "live:s-9"])
    assert [(i.type, i.title, i.video_id, i.live_session_id) for i in items] == [
        (lti_pb2.DEEP_LINKING_ITEM_TYPE_LTI_RESOURCE_LINK, "Week 1", "v-1", ""),
        (lti_pb2.DEEP_LINKING_ITEM_TYPE_LTI_RESOURCE_LINK, "Office hour", "", "s-9"),
    ]


def test_an_item_without_its_own_title_takes_the_forms_title_and_a_repeated_pick_counts_once() -> None:
    items = picked_items({"title": "Lecture media"}, ["video:v-1", "video:v-1"])
    assert [(i.title, i.video_id) for i in items] == [("Lecture media", "v-1")]


def test_a_live_session_named_by_hand_is_still_taken() -> None:
    [item] = picked_items({"live_session_id": " s-2 "}, ["live"])
    assert item.live_session_id == "s-2"


@pytest.mark.parametrize("picks", [[], ["live"], ["video:"], ["poster:x"]])
def test_a_form_with_nothing_usable_picked_is_refused_in_words(picks: list[str]) -> None:
    with pytest.raises(EdgeError, match="pick a ready video or a live session"):
        picked_items({}, picks)

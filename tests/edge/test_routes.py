"""Path templates and the router, without I/O: the grammar and the precedence rule."""

from __future__ import annotations

import pytest

from edge.routes import Match, MethodNotAllowed, NotFound, Router, TemplateError, parse_template, split_path


def bind(template: str, path: str) -> dict[str, str] | None:
    return parse_template(template).match(split_path(path))


def test_a_plain_variable_takes_one_segment() -> None:
    assert bind("/v1/echo/{id}", "/v1/echo/42") == {"id": "42"}
    assert bind("/v1/echo/{id}", "/v1/echo/42/more") is None


def test_a_variable_with_a_sub_template_keeps_its_literals() -> None:
    assert bind("/v1/{name=rooms/*/notes/*}", "/v1/rooms/7/notes/9") == {"name": "rooms/7/notes/9"}
    assert bind("/v1/{name=rooms/*/notes/*}", "/v1/halls/7/notes/9") is None


def test_a_deep_wildcard_takes_the_rest_of_the_path() -> None:
    assert bind("/v1/files/{path=**}", "/v1/files/a/b/c.txt") == {"path": "a/b/c.txt"}
    assert bind("/v1/files/{path=**}", "/v1/files") == {"path": ""}


def test_a_verb_is_split_from_the_last_segment() -> None:
    assert bind("/v1/echo/{id}:shout", "/v1/echo/7:shout") == {"id": "7"}
    assert bind("/v1/echo/{id}:shout", "/v1/echo/7") is None
    assert bind("/v1/echo/{id}:shout", "/v1/echo/:shout") is None


def test_nested_field_paths_and_dotted_literals_parse() -> None:
    assert bind("/v1/labels/{inner.label}", "/v1/labels/x") == {"inner.label": "x"}
    assert bind("/v1/videos/{id}/master.m3u8", "/v1/videos/v1/master.m3u8") == {"id": "v1"}
    assert bind("/v1/videos/{id}/master.m3u8", "/v1/videos/v1/master_m3u8") is None


def test_percent_encoding_is_decoded_after_splitting() -> None:
    assert bind("/v1/echo/{id}", "/v1/echo/a%2Fb%20c") == {"id": "a/b c"}


@pytest.mark.parametrize(
    "template",
    ["v1/no-slash", "/v1/{id", "/v1/{a{b}}", "/v1/**/tail", "/v1/{x}/{x}", "/v1/{1bad}", "/v1/x:", "/v1//x"],
)
def test_a_malformed_template_is_refused_with_its_text(template: str) -> None:
    with pytest.raises(TemplateError, match="path template"):
        parse_template(template)


def test_a_literal_beats_a_variable_whatever_the_order_they_were_added_in() -> None:
    for order in (("/v1/echo/{id}", "/v1/echo/latest"), ("/v1/echo/latest", "/v1/echo/{id}")):
        router: Router[str] = Router()
        for source in order:
            router.add("GET", parse_template(source), source)
        resolved = router.resolve("GET", "/v1/echo/latest")
        assert isinstance(resolved, Match) and resolved.target == "/v1/echo/latest"
        other = router.resolve("GET", "/v1/echo/7")
        assert isinstance(other, Match) and other.target == "/v1/echo/{id}"


def test_one_segment_beats_the_rest_of_the_path_and_a_verb_beats_none() -> None:
    router: Router[str] = Router()
    for source in ("/v1/{path=**}", "/v1/{id}", "/v1/{name}:go"):
        router.add("GET", parse_template(source), source)
    assert _target(router, "/v1/x") == "/v1/{id}"
    assert _target(router, "/v1/x/y") == "/v1/{path=**}"
    assert _target(router, "/v1/x:go") == "/v1/{name}:go"


def test_a_method_missing_on_the_best_template_falls_through_to_the_next() -> None:
    router: Router[str] = Router()
    router.add("GET", parse_template("/v1/echo/latest"), "latest")
    router.add("POST", parse_template("/v1/echo/{id}"), "by-id")
    assert _target(router, "/v1/echo/latest", "POST") == "by-id"
    resolved = router.resolve("DELETE", "/v1/echo/latest")
    assert resolved == MethodNotAllowed(("GET", "POST"))
    assert isinstance(router.resolve("GET", "/v2/nothing"), NotFound)


def test_two_templates_of_the_same_shape_and_method_are_refused() -> None:
    router: Router[str] = Router()
    router.add("GET", parse_template("/v1/a/{x}"), "x")
    router.add("POST", parse_template("/v1/a/{y}"), "y")
    with pytest.raises(TemplateError, match="ambiguous"):
        router.add("GET", parse_template("/v1/a/{y}"), "y")


def _target(router: Router[str], path: str, method: str = "GET") -> str:
    resolved = router.resolve(method, path)
    assert isinstance(resolved, Match), resolved
    return resolved.target


def test_the_length_index_finds_what_a_full_scan_finds_for_every_length() -> None:
    router: Router[str] = Router()
    for method, template in (
        ("GET", "/v1/files/{path=**}"),
        ("GET", "/v1/files/{id}"),
        ("POST", "/v1/files/{id}/parts/{part}"),
        ("GET", "/v1/files/{id}/parts/{part}"),
        ("GET", "/v1/echo/{id}:shout"),
    ):
        router.add(method, parse_template(template), f"{method} {template}")
    deep = "/v1/files/" + "/".join(["a"] * 40)
    for _ in range(2):  # the second pass answers from the index the first one filled
        assert isinstance(found := router.resolve("GET", "/v1/files/7"), Match) and found.target.endswith("{id}")
        assert isinstance(found := router.resolve("GET", "/v1/files/7/parts/2"), Match)
        assert found.target == "GET /v1/files/{id}/parts/{part}"
        assert isinstance(found := router.resolve("GET", "/v1/files/7/x/2"), Match) and found.target.endswith("**}")
        assert isinstance(found := router.resolve("GET", deep), Match) and found.params["path"].count("a") == 40
        assert isinstance(found := router.resolve("GET", "/v1/echo/1:shout"), Match) and found.params == {"id": "1"}
        assert isinstance(router.resolve("GET", "/v1/echo/1/2"), NotFound)
        assert isinstance(router.resolve("DELETE", "/v1/files/7/parts/2"), MethodNotAllowed)
    router.add("GET", parse_template("/v1/echo/{id}/{more}"), "added later")
    assert isinstance(found := router.resolve("GET", "/v1/echo/1/2"), Match) and found.target == "added later"

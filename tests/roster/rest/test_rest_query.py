"""Paging (limit/offset, X-Total-Count, Link), sort/orderBy and fields on collections."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy import event

USERS = ["a-student-1", "a-student-2", "a-student-3", "a-student-4", "a-teacher-1", "a-teacher-2"]
USERS_URL = "https://portal.example.jp/ims/oneroster/rostering/v1p2/users"


def links(response: Any) -> dict[str, tuple[str, dict[str, str]]]:
    """rel -> (url without query, query parameters)."""
    out = {}
    for part in re.findall(r'<([^>]*)>; rel="(\w+)"', response.headers["Link"]):
        url, rel = part
        split = urlsplit(url)
        out[rel] = (f"{split.scheme}://{split.netloc}{split.path}", dict(parse_qsl(split.query)))
    return out


def offsets(response: Any) -> dict[str, int]:
    return {rel: int(params["offset"]) for rel, (_, params) in links(response).items()}


def error_code(response: Any) -> str:
    field = response.json()["imsx_CodeMinor"]["imsx_codeMinorField"][0]
    return str(field["imsx_codeMinorFieldValue"])


def test_pages_and_links_at_the_boundaries(api: Any) -> None:
    first = api.get("/users", limit=4)
    assert [u["sourcedId"] for u in first.json()["users"]] == USERS[:4]
    assert first.headers["X-Total-Count"] == "6"
    assert offsets(first) == {"first": 0, "next": 4, "last": 4}
    url, params = links(first)["next"]
    assert url == USERS_URL
    assert params == {"limit": "4", "offset": "4"}

    second = api.get("/users", limit=4, offset=4)
    assert [u["sourcedId"] for u in second.json()["users"]] == USERS[4:]
    assert offsets(second) == {"first": 0, "prev": 0, "last": 4}

    exact = api.get("/users", limit=6)
    assert len(exact.json()["users"]) == 6
    assert offsets(exact) == {"first": 0, "last": 0}

    one = api.get("/users", limit=1, offset=3)
    assert [u["sourcedId"] for u in one.json()["users"]] == ["a-student-4"]
    assert offsets(one) == {"first": 0, "prev": 2, "next": 4, "last": 5}

    beyond = api.get("/users", limit=4, offset=10)
    assert beyond.json() == {"users": []}
    assert beyond.headers["X-Total-Count"] == "6"
    assert offsets(beyond) == {"first": 0, "prev": 4, "last": 4}

    unaligned = api.get("/users", limit=4, offset=1)
    assert [u["sourcedId"] for u in unaligned.json()["users"]] == USERS[1:5]
    assert offsets(unaligned) == {"first": 0, "prev": 0, "next": 5, "last": 4}


def test_default_and_capped_limits(api: Any) -> None:
    default = api.get("/users")
    assert links(default)["first"][1] == {"limit": "100", "offset": "0"}
    capped = api.get("/users", limit=10**9)
    assert capped.status_code == 200
    assert links(capped)["first"][1]["limit"] == "10000"


def test_empty_collection_links(api: Any) -> None:
    response = api.get("/users", filter="familyName='nobody'")
    assert response.json() == {"users": []}
    assert response.headers["X-Total-Count"] == "0"
    assert offsets(response) == {"first": 0, "last": 0}


def test_links_keep_the_other_parameters(api: Any) -> None:
    response = api.get(
        "/users", limit=2, offset=2, filter="grades='P5' OR familyName='山田'", sort="familyName",
        orderBy="desc", fields="sourcedId,familyName",
    )  # fmt: skip
    assert response.headers["X-Total-Count"] == "4"
    assert offsets(response) == {"first": 0, "prev": 0, "last": 2}
    _, params = links(response)["first"]
    assert params == {
        "filter": "grades='P5' OR familyName='山田'",
        "sort": "familyName",
        "orderBy": "desc",
        "fields": "sourcedId,familyName",
        "limit": "2",
        "offset": "0",
    }
    # Following the links pages through the same result.
    seen = []
    url, params = links(response)["first"]
    while True:
        page = api.client.get(url.replace("https://portal.example.jp", ""), params=params,
                              headers={"Authorization": f"Bearer {api.token}"})  # fmt: skip
        seen += [u["sourcedId"] for u in page.json()["users"]]
        if "next" not in links(page):
            break
        url, params = links(page)["next"]
    # 高橋 (U+9AD8) > 鈴木 (U+9234) > 田中 (U+7530) > 山田 (U+5C71), descending.
    assert seen == ["a-student-2", "a-student-1", "a-student-3", "a-teacher-1"]


def test_paging_with_ties_is_stable(api: Any) -> None:
    seen = []
    for offset in range(0, 6, 2):
        page = api.get("/users", sort="status", limit=2, offset=offset)
        seen += [u["sourcedId"] for u in page.json()["users"]]
    # Status ties everywhere but one row; sourcedId breaks the ties the same way on every page.
    assert seen == [*[u for u in USERS if u != "a-student-3"], "a-student-3"]


def test_sort_and_order_by(api: Any) -> None:
    family = {
        "a-student-1": "鈴木", "a-student-2": "高橋", "a-student-3": "田中", "a-student-4": "伊藤",
        "a-teacher-1": "山田", "a-teacher-2": "佐藤",
    }  # fmt: skip
    by_family = sorted(family, key=lambda sid: family[sid])  # code-point order
    assert api.ids("/users", "users", sort="familyName") == by_family
    assert api.ids("/users", "users", sort="familyName", orderBy="asc") == by_family
    assert api.ids("/users", "users", sort="familyName", orderBy="desc") == by_family[::-1]
    assert api.ids("/users", "users", orderBy="desc") == USERS[::-1]
    # Newest first; equal timestamps fall back to sourcedId.
    assert api.ids("/users", "users", sort="dateLastModified", orderBy="desc") == [
        "a-student-2", "a-student-3", "a-student-1", "a-student-4", "a-teacher-1", "a-teacher-2",
    ]  # fmt: skip
    # Missing values sort as the smallest, on both databases.
    no_middle = [u for u in USERS if u != "a-student-4"]
    assert api.ids("/users", "users", sort="middleName") == [*no_middle, "a-student-4"]
    assert api.ids("/users", "users", sort="middleName", orderBy="desc") == [
        "a-student-4",
        *no_middle,
    ]
    assert api.ids("/enrollments", "enrollments", sort="metadata.jp.shussekiNo", limit=3) == [
        "a-enr-hr-t1", "a-enr-j1-t2", "a-enr-math-s1",
    ]  # fmt: skip
    assert api.ids("/schools", "orgs", sort="identifier", orderBy="desc") == [
        "a-school-2",
        "a-school-1",
    ]


def test_bad_sort_parameters_are_400(api: Any) -> None:
    for params in (
        {"sort": "nope"},
        {"sort": "grades"},  # a list: not sortable
        {"sort": "roles.role"},
        {"sort": "familyName", "orderBy": "up"},
    ):
        response = api.get("/users", **params)
        assert response.status_code == 400, params
        assert error_code(response) == "invaliddata", params


def test_fields_select_top_level_properties(api: Any) -> None:
    body = api.get("/users", fields="sourcedId,familyName", limit=2).json()
    assert body == {
        "users": [
            {"sourcedId": "a-student-1", "familyName": "鈴木"},
            {"sourcedId": "a-student-2", "familyName": "高橋"},
        ]
    }
    roles = api.get("/users/a-teacher-1", fields=" roles , metadata ").json()["user"]
    assert set(roles) == {"roles", "metadata"}
    assert [r["role"] for r in roles["roles"]] == ["teacher", "siteAdministrator"]
    assert api.get("/classes/a-class-hr", fields="title").json() == {"class": {"title": "5年1組"}}
    assert api.get("/orgs", fields="children", limit=1).json() == {
        "orgs": [{"children": [{
            "href": "https://portal.example.jp/ims/oneroster/rostering/v1p2/orgs/a-school-1",
            "sourcedId": "a-school-1",
            "type": "org",
        }, {
            "href": "https://portal.example.jp/ims/oneroster/rostering/v1p2/orgs/a-school-2",
            "sourcedId": "a-school-2",
            "type": "org",
        }]}]
    }  # fmt: skip


def test_unknown_fields_are_400_invalid_selection_field(api: Any) -> None:
    for path in ("/users", "/users/a-student-1", "/classes/a-class-hr/students", "/enrollments"):
        response = api.get(path, fields="sourcedId,password")
        assert response.status_code == 400, path
        assert error_code(response) == "invalid_selection_field"
        assert "password" in response.json()["imsx_description"]


def test_bad_paging_parameters_are_400_not_422(api: Any) -> None:
    for params in (
        {"limit": 0},
        {"limit": -5},
        {"limit": "ten"},
        {"offset": -1},
        {"offset": 2**31},
        {"offset": "1.5"},
    ):
        response = api.get("/users", **params)
        assert response.status_code == 400, params
        assert error_code(response) == "invaliddata"
        assert response.json()["imsx_codeMajor"] == "failure"


@contextmanager
def counting_queries(engine: Any) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: Any) -> None:
        if args[2] != "BEGIN":  # SQLite's explicit transaction start (tsunagu.db.engine)
            statements.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_collections_do_not_query_per_row(api: Any, container: Any) -> None:
    engine = container.database.engine
    api.get("/users", limit=1)  # warm the token cache
    counts = {}
    for limit in (1, 6):
        with counting_queries(engine) as statements:
            assert len(api.get("/users", limit=limit).json()["users"]) == limit
        counts[limit] = len(statements)
    # COUNT, the page, roles, user profiles: the same four queries whatever the page size.
    assert counts == {1: 4, 6: 4}
    with counting_queries(engine) as statements:
        api.get("/classes/a-class-hr/students")
    assert len(statements) == 5  # + the class existence check
    with counting_queries(engine) as statements:
        api.get("/users", fields="sourcedId")
    assert len(statements) == 2  # roles and profiles are not loaded when not selected

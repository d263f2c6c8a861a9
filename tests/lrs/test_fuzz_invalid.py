"""Hypothesis: generated invalid statements are refused with 400 and a path; nothing is stored."""

from __future__ import annotations

import copy
import json
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.lrs.conftest import Cred, statement
from tests.lrs.test_statement_resource import count_rows
from tsunagu.container import Container
from tsunagu.lrs.validation import is_iri, is_language_tag, is_uuid, validate_statement

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
not_iri = st.one_of(json_scalars, st.lists(st.integers(), max_size=2)).filter(
    lambda v: not is_iri(v)
)
not_uuid = json_scalars.filter(lambda v: not is_uuid(v))
not_bool = json_scalars.filter(lambda v: not isinstance(v, bool))
bad_tag = st.text(min_size=1, max_size=12).filter(lambda t: not is_language_tag(t))
_KNOWN = {
    "id", "actor", "verb", "object", "result", "context", "timestamp", "stored", "authority",
    "version", "attachments", "objectType", "name", "mbox", "mbox_sha1sum", "openid", "account",
}  # fmt: skip
unknown_key = st.text(min_size=1, max_size=12).filter(lambda k: k not in _KNOWN)

# (where, the bad value): each puts one invalid value into an otherwise valid statement.
MUTATIONS = st.one_of(
    st.tuples(st.just(("id",)), not_uuid),
    st.tuples(st.just(("verb", "id")), not_iri),
    st.tuples(st.just(("object", "id")), not_iri),
    st.tuples(st.just(("actor", "account", "homePage")), not_iri),
    st.tuples(st.just(("object", "definition", "type")), not_iri),
    st.tuples(st.just(("context", "registration")), not_uuid),
    st.tuples(st.just(("result", "success")), not_bool),
    st.tuples(st.just(("result", "completion")), not_bool),
    st.tuples(
        st.just(("result", "score", "scaled")),
        st.one_of(
            st.floats(min_value=1.0001, max_value=1e9),
            st.floats(max_value=-1.0001, min_value=-1e9),
            st.text(max_size=5),
        ),
    ),
    st.tuples(st.just(("verb", "display")), st.dictionaries(bad_tag, st.text(), min_size=1)),
    st.tuples(st.tuples(unknown_key), json_scalars),
    st.tuples(st.tuples(st.just("actor"), unknown_key), json_scalars),
    st.tuples(st.just(("timestamp",)), st.text(max_size=30)).filter(
        lambda m: validate_statement({**statement(), "timestamp": m[1]}, "1.0.3") != []
    ),
    st.tuples(st.just(("actor",)), json_scalars),
    st.tuples(st.just(("object",)), json_scalars),
)


def _apply(mutation: tuple[tuple[str, ...], Any]) -> dict[str, Any]:
    path, value = mutation
    s = copy.deepcopy(statement())
    node: Any = s
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return s


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
@given(mutation=MUTATIONS, as_batch=st.booleans())
def test_invalid_statements_get_400_with_a_path(
    http: TestClient, cred: Cred, container: Container, mutation: Any, as_batch: bool
) -> None:
    bad = _apply(mutation)
    body: Any = [statement(), bad] if as_batch else bad
    r = http.post(
        "/xapi/statements",
        content=json.dumps(body),
        headers={**cred.headers(), "Content-Type": "application/json"},
    )
    assert r.status_code == 400, (bad, r.text)
    answer = r.json()
    assert "path" in answer, (bad, answer)
    assert answer["path"].startswith("$[1]" if as_batch else "$")
    assert all(p["path"].startswith("$") for p in answer["problems"])
    assert count_rows(container) == 0

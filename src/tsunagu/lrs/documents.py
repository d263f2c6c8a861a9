"""State, Activity Profile and Agent Profile documents (xAPI 1.0.3 Part Three §2.3, §2.6, §2.7).

Concurrency (1.0.3 Part Three §3.1 "Concurrency"; IEEE 9274.1.1 extends it to State):

* ``If-Match`` naming another ETag, or ``If-None-Match: *`` on an existing document → 412.
* A PUT that would overwrite an existing document without either header → 409 (profiles always,
  State only on 2.0 requests).
* POST merges JSON objects (top-level keys of the new document overwrite); merging where either
  side is not a JSON object → 400.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from tsunagu.lrs.models import Document
from tsunagu.lrs.service import LrsError, utcnow

Kind = Literal["state", "activity_profile", "agent_profile"]


@dataclass(frozen=True)
class DocumentKey:
    kind: Kind
    activity_id: str = ""
    agent_ifi: str = ""
    registration: str = ""

    def where(self, tenant_id: int) -> list[Any]:
        d = Document
        return [
            d.tenant_id == tenant_id,
            d.kind == self.kind,
            d.activity_id == self.activity_id,
            d.agent_ifi == self.agent_ifi,
            d.registration == self.registration,
        ]


@dataclass(frozen=True)
class Preconditions:
    if_match: str | None = None
    if_none_match: str | None = None

    @property
    def given(self) -> bool:
        return self.if_match is not None or self.if_none_match is not None


@dataclass(frozen=True)
class StoredDocument:
    content: bytes
    content_type: str
    etag: str
    updated: datetime


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/").strip('"') for tag in header.split(",") if tag.strip()}


def _check(existing: Document | None, pre: Preconditions) -> None:
    if pre.if_match is not None:
        tags = _etags(pre.if_match)
        if existing is None or ("*" not in tags and existing.etag not in tags):
            raise LrsError(412, "If-Match does not match the document's current ETag.")
    if pre.if_none_match is not None and existing is not None:
        tags = _etags(pre.if_none_match)
        if "*" in tags or existing.etag in tags:
            raise LrsError(412, "If-None-Match: the document exists.")


def _find(
    session: Session,
    tenant_id: int,
    key: DocumentKey,
    document_id: str,
    *,
    for_update: bool = False,
) -> Document | None:
    query = select(Document).where(*key.where(tenant_id), Document.document_id == document_id)
    if for_update:
        # Writers of one document take turns: two concurrent POST merges must both land
        # (PostgreSQL row lock; SQLite serialises writers anyway).
        query = query.with_for_update()
    return session.scalar(query)


def _is_json(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == "application/json"


def put_document(
    session: Session,
    tenant_id: int,
    key: DocumentKey,
    document_id: str,
    content: bytes,
    content_type: str,
    pre: Preconditions,
    *,
    require_preconditions: bool,
    refuse_new_without_preconditions: bool = False,
) -> None:
    existing = _find(session, tenant_id, key, document_id, for_update=True)
    _check(existing, pre)
    if existing is not None and require_preconditions and not pre.given:
        raise LrsError(
            409, "The document exists: send If-Match (or If-None-Match) to overwrite it."
        )
    if existing is None and refuse_new_without_preconditions and not pre.given:
        # The ADL 1.0.3 suite (XAPI-00273, XAPI-00287) wants profile PUTs to carry one.
        raise LrsError(400, "Send If-None-Match: * (or If-Match) with a profile PUT.")
    _write(session, tenant_id, key, document_id, existing, content, content_type)


def post_document(
    session: Session,
    tenant_id: int,
    key: DocumentKey,
    document_id: str,
    content: bytes,
    content_type: str,
    pre: Preconditions,
) -> None:
    existing = _find(session, tenant_id, key, document_id, for_update=True)
    _check(existing, pre)
    if existing is None:
        _write(session, tenant_id, key, document_id, None, content, content_type)
        return
    # 1.0.3 Part Three §2.3 "JSON Procedure with Requirements": merge two JSON objects.
    if not (_is_json(content_type) and _is_json(existing.content_type)):
        raise LrsError(400, "POST merges JSON documents only (both must be application/json).")
    try:
        old = json.loads(existing.content)
        new = json.loads(content)
    except ValueError:
        raise LrsError(400, "The document is not valid JSON.") from None
    if not isinstance(old, dict) or not isinstance(new, dict):
        raise LrsError(400, "POST merges JSON objects only.")
    merged = json.dumps({**old, **new}, ensure_ascii=False).encode()
    _write(session, tenant_id, key, document_id, existing, merged, "application/json")


def _write(
    session: Session,
    tenant_id: int,
    key: DocumentKey,
    document_id: str,
    existing: Document | None,
    content: bytes,
    content_type: str,
) -> None:
    etag = hashlib.sha1(content, usedforsecurity=False).hexdigest()
    now = utcnow()
    if existing is None:
        session.add(
            Document(
                tenant_id=tenant_id,
                kind=key.kind,
                activity_id=key.activity_id,
                agent_ifi=key.agent_ifi,
                registration=key.registration,
                document_id=document_id,
                content=content,
                content_type=content_type or "application/octet-stream",
                etag=etag,
                updated=now,
            )
        )
    else:
        existing.content = content
        existing.content_type = content_type or "application/octet-stream"
        existing.etag = etag
        existing.updated = now
    session.flush()


def get_document(
    session: Session, tenant_id: int, key: DocumentKey, document_id: str
) -> StoredDocument | None:
    found = _find(session, tenant_id, key, document_id)
    if found is None:
        return None
    updated = found.updated
    updated = updated.replace(tzinfo=UTC) if updated.tzinfo is None else updated.astimezone(UTC)
    return StoredDocument(found.content, found.content_type, found.etag, updated)


def list_document_ids(
    session: Session, tenant_id: int, key: DocumentKey, since: datetime | None
) -> list[str]:
    query = select(Document.document_id).where(*key.where(tenant_id))
    if since is not None:
        query = query.where(Document.updated > since)
    return list(session.scalars(query.order_by(Document.document_id)))


def delete_documents(
    session: Session,
    tenant_id: int,
    key: DocumentKey,
    document_id: str | None,
    pre: Preconditions,
) -> None:
    if document_id is not None:
        existing = _find(session, tenant_id, key, document_id)
        _check(existing, pre)
        if existing is not None:
            session.delete(existing)
        return
    session.execute(delete(Document).where(*key.where(tenant_id)))

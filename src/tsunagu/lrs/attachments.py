"""Attachments sent as ``multipart/mixed`` and signed statements.

xAPI 1.0.3 Part Three §2.1.2 "Attachments" / Part Two §2.4.11: the first part is the statement
(or batch) as ``application/json``; each further part carries one attachment's raw content with
an ``X-Experience-API-Hash`` header equal to the ``sha2`` of an attachment in the statements.
Part Two §2.6 "Signed Statements": a ``signature`` attachment holds a JWS (RS256/384/512) whose
payload is the statement itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from tsunagu.lrs.models import AttachmentContent
from tsunagu.lrs.service import LrsError, canonical_hash

SIGNATURE_USAGE = "http://adlnet.gov/expapi/attachments/signature"
_SIGNATURE_ALGORITHMS = ("RS256", "RS384", "RS512")
_HASHES = {56: hashlib.sha224, 64: hashlib.sha256, 96: hashlib.sha384, 128: hashlib.sha512}


@dataclass(frozen=True)
class Part:
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "application/octet-stream")


def boundary_of(content_type: str) -> str:
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "boundary" and value.strip():
            return value.strip().strip('"')
    raise LrsError(400, "multipart/mixed needs a boundary parameter.")


def parse_multipart(body: bytes, boundary: str) -> list[Part]:
    """The parts of a ``multipart/mixed`` body (RFC 2046 §5.1.1); 400 when malformed."""
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    pieces = (b"\r\n" + body).split(delimiter)
    if len(pieces) < 3:
        raise LrsError(400, "The multipart body has no parts.")
    parts: list[Part] = []
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            break
        _, newline, rest = piece.partition(b"\r\n")  # transport padding after the boundary
        if not newline:
            raise LrsError(400, "Malformed multipart part.")
        head, separator, content = rest.partition(b"\r\n\r\n")
        if not separator:
            if rest.startswith(b"\r\n"):
                head, content = b"", rest[2:]
            else:
                raise LrsError(400, "A multipart part lacks the blank line after its headers.")
        headers: dict[str, str] = {}
        for line in head.decode("latin-1").split("\r\n"):
            if not line.strip():
                continue
            name, colon, value = line.partition(":")
            if not colon:
                raise LrsError(400, "Malformed multipart part header.")
            headers[name.strip().lower()] = value.strip()
        parts.append(Part(headers, content))
    else:
        raise LrsError(400, "The multipart body lacks its closing boundary.")
    if not parts:
        raise LrsError(400, "The multipart body has no parts.")
    return parts


def _declared(statements: Iterable[Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for statement in statements:
        if isinstance(statement, dict):
            for holder in (statement, statement.get("object")):
                if isinstance(holder, dict) and isinstance(holder.get("attachments"), list):
                    found.extend(a for a in holder["attachments"] if isinstance(a, dict))
    return found


def check_parts(statements: list[Any], parts: list[Part]) -> dict[str, Part]:
    """Match raw parts to declared attachments by SHA-2 (1.0.3 Part Three §2.1.2); sha2 → part.

    400 when a part's hash header is missing or wrong, when a declared attachment without
    ``fileUrl`` has no part, or when a part matches no declared attachment.
    """
    by_hash: dict[str, Part] = {}
    for part in parts:
        declared_hash = part.headers.get("x-experience-api-hash", "").lower()
        if not declared_hash:
            raise LrsError(400, "Every attachment part needs an X-Experience-API-Hash header.")
        if part.headers.get("content-transfer-encoding", "binary").lower() != "binary":
            raise LrsError(400, "Attachment parts must use Content-Transfer-Encoding: binary.")
        hasher = _HASHES.get(len(declared_hash))
        if hasher is None or hasher(part.body).hexdigest() != declared_hash:
            raise LrsError(400, "An attachment part's content does not match its hash.")
        by_hash[declared_hash] = part
    declared = _declared(statements)
    declared_hashes = {str(a.get("sha2", "")).lower() for a in declared}
    for attachment in declared:
        sha2 = str(attachment.get("sha2", "")).lower()
        if "fileUrl" not in attachment and sha2 not in by_hash:
            raise LrsError(400, f"No multipart part carries attachment {sha2[:16]}….")
    for sha2 in by_hash:
        if sha2 not in declared_hashes:
            raise LrsError(400, "A multipart part matches no attachment of the statements.")
    return by_hash


def require_file_urls(statements: list[Any]) -> None:
    """A JSON (not multipart) request can only declare attachments that have a fileUrl."""
    for attachment in _declared(statements):
        if "fileUrl" not in attachment:
            raise LrsError(400, "An attachment without fileUrl must be sent as multipart/mixed.")


def verify_signatures(statements: list[Any], parts: dict[str, Part]) -> None:
    """Signed statements (1.0.3 Part Two §2.6): the JWS must be RS256/384/512 and its payload
    the statement itself; with an ``x5c`` header the signature is verified with that key."""
    for statement in statements:
        if not isinstance(statement, dict):
            continue
        for attachment in statement.get("attachments") or ():
            if not isinstance(attachment, dict) or attachment.get("usageType") != SIGNATURE_USAGE:
                continue
            if attachment.get("contentType") != "application/octet-stream":
                raise LrsError(
                    400, "A signature attachment's contentType is application/octet-stream."
                )
            part = parts.get(str(attachment.get("sha2", "")).lower())
            if part is None:
                raise LrsError(400, "The signature attachment's content is missing.")
            _verify_one(statement, part.body)


def _b64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _verify_one(statement: dict[str, Any], token: bytes) -> None:
    try:
        header_b64, payload_b64, _sig = token.decode("ascii").strip().split(".")
        header = json.loads(_b64(header_b64))
        payload = json.loads(_b64(payload_b64))
    except (ValueError, UnicodeDecodeError):
        raise LrsError(400, "The signature is not a JWS compact serialization.") from None
    if not isinstance(header, dict) or header.get("alg") not in _SIGNATURE_ALGORITHMS:
        raise LrsError(400, "Statement signatures must use RS256, RS384 or RS512.")
    if not isinstance(payload, dict) or _signed_form(payload) != _signed_form(statement):
        raise LrsError(400, "The signature's payload differs from the statement.")
    chain = header.get("x5c")
    if chain:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        from joserfc import jws
        from joserfc.errors import JoseError
        from joserfc.jwk import RSAKey

        try:
            certificate = x509.load_der_x509_certificate(base64.b64decode(chain[0]))
            pem = certificate.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            registry = jws.JWSRegistry(algorithms=list(_SIGNATURE_ALGORITHMS))
            # An x5c certificate chain alone exceeds joserfc's default 512-byte header limit.
            registry.max_header_length = 65536
            registry.max_payload_length = 10 * 1024 * 1024
            jws.deserialize_compact(token, RSAKey.import_key(pem), registry=registry)
        except (JoseError, ValueError, TypeError, IndexError):
            raise LrsError(400, "The statement's signature does not verify.") from None


def _signed_form(statement: dict[str, Any]) -> str:
    # Compared as statements are (immutability rules), without the attachments (which hold the
    # signature itself) and without what the LRS sets.
    body = {k: v for k, v in statement.items() if k != "attachments"}
    body.setdefault("id", "")
    return canonical_hash(body)


def store_parts(session: Session, tenant_id: int, parts: dict[str, Part]) -> None:
    if not parts:
        return
    dialect = session.get_bind().dialect.name
    builder = pg_insert if dialect == "postgresql" else sqlite_insert
    rows = [
        {"tenant_id": tenant_id, "sha2": sha2, "content_type": p.content_type, "content": p.body}
        for sha2, p in sorted(parts.items())
    ]
    session.execute(builder(AttachmentContent).on_conflict_do_nothing(), rows)


def load_parts(
    session: Session, tenant_id: int, statements: list[dict[str, Any]]
) -> list[tuple[str, str, bytes]]:
    """(sha2, content type, content) of every stored attachment the statements declare."""
    wanted = sorted({str(a.get("sha2", "")).lower() for a in _declared(statements)})
    if not wanted:
        return []
    rows = session.execute(
        select(
            AttachmentContent.sha2, AttachmentContent.content_type, AttachmentContent.content
        ).where(AttachmentContent.tenant_id == tenant_id, AttachmentContent.sha2.in_(wanted))
    )
    return [(r[0], r[1], bytes(r[2])) for r in rows]


def multipart_response_body(
    document: Any, parts: list[tuple[str, str, bytes]], boundary: str
) -> bytes:
    out = [
        f"--{boundary}\r\nContent-Type: application/json\r\n\r\n".encode(),
        json.dumps(document, ensure_ascii=False).encode(),
    ]
    for sha2, content_type, content in parts:
        out.append(
            (
                f"\r\n--{boundary}\r\nContent-Type: {content_type}\r\n"
                f"Content-Transfer-Encoding: binary\r\nX-Experience-API-Hash: {sha2}\r\n\r\n"
            ).encode()
        )
        out.append(content)
    out.append(f"\r\n--{boundary}--\r\n".encode())
    return b"".join(out)

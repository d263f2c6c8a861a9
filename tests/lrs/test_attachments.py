"""Attachments in multipart/mixed (SHA-2 matching), attachments=true, signed statements (JWS)."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import uuid
from email import message_from_bytes
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from joserfc import jws
from joserfc.jwk import RSAKey

from tests.lrs.conftest import Cred, statement
from tsunagu.lrs.attachments import SIGNATURE_USAGE, parse_multipart

BOUNDARY = "xapi-boundary-7c1e"
PDF = b"%PDF-1.4 pretend report \x00\x01\x02"


def attachment(content: bytes, usage: str = "https://example.jp/usage/report") -> dict[str, Any]:
    return {
        "usageType": usage,
        "display": {"ja-JP": "レポート"},
        "contentType": "application/octet-stream",
        "length": len(content),
        "sha2": hashlib.sha256(content).hexdigest(),
    }


def multipart(body: Any, *parts: tuple[bytes, str | None]) -> bytes:
    out = [f"--{BOUNDARY}\r\nContent-Type: application/json\r\n\r\n".encode(),
           json.dumps(body).encode()]  # fmt: skip
    for content, declared in parts:
        head = "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n"
        if declared is not None:
            head += f"X-Experience-API-Hash: {declared}\r\n"
        out.append(f"\r\n--{BOUNDARY}\r\n{head}\r\n".encode())
        out.append(content)
    out.append(f"\r\n--{BOUNDARY}--\r\n".encode())
    return b"".join(out)


def send(http: TestClient, cred: Cred, body: bytes) -> Any:
    headers = {**cred.headers(), "Content-Type": f"multipart/mixed; boundary={BOUNDARY}"}
    return http.post("/xapi/statements", content=body, headers=headers)


def test_attachment_round_trip(http: TestClient, cred: Cred) -> None:
    s = statement(id=str(uuid.uuid4()), attachments=[attachment(PDF)])
    r = send(http, cred, multipart(s, (PDF, hashlib.sha256(PDF).hexdigest())))
    assert r.status_code == 200, r.text
    r = http.get(
        "/xapi/statements",
        params={"statementId": s["id"], "attachments": "true"},
        headers=cred.headers(),
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("multipart/mixed; boundary=")
    boundary = r.headers["content-type"].split("boundary=")[1]
    parts = parse_multipart(r.content, boundary)
    assert json.loads(parts[0].body)["id"] == s["id"]
    assert parts[1].body == PDF
    assert parts[1].headers["x-experience-api-hash"] == hashlib.sha256(PDF).hexdigest()
    listed = http.get("/xapi/statements", params={"attachments": "true"}, headers=cred.headers())
    assert listed.headers["content-type"].startswith("multipart/mixed")
    # Also parseable by a generic MIME parser.
    message = message_from_bytes(
        b"Content-Type: " + listed.headers["content-type"].encode() + b"\r\n\r\n" + listed.content
    )
    assert message.is_multipart()


@pytest.mark.parametrize(
    "case", ["wrong hash", "missing part", "extra part", "no hash header", "json without fileUrl"]
)
def test_attachment_mismatches_get_400(http: TestClient, cred: Cred, case: str) -> None:
    s = statement(attachments=[attachment(PDF)])
    good = hashlib.sha256(PDF).hexdigest()
    if case == "json without fileUrl":
        r = http.post("/xapi/statements", json=s, headers=cred.headers())
    else:
        body = {
            "wrong hash": multipart(s, (PDF + b"x", good)),
            "missing part": multipart(s),
            "extra part": multipart(
                s, (PDF, good), (b"other", hashlib.sha256(b"other").hexdigest())
            ),
            "no hash header": multipart(s, (PDF, None)),
        }[case]
        r = send(http, cred, body)
    assert r.status_code == 400, r.text
    assert http.get("/xapi/statements", headers=cred.headers()).json()["statements"] == []


def test_file_url_attachments_need_no_part(http: TestClient, cred: Cred) -> None:
    s = statement(attachments=[{**attachment(PDF), "fileUrl": "https://example.jp/r.pdf"}])
    assert http.post("/xapi/statements", json=s, headers=cred.headers()).status_code == 200


def _key_and_cert() -> tuple[rsa.RSAPrivateKey, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tool.example.jp")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()


def _sign(payload: dict[str, Any], key: rsa.RSAPrivateKey, x5c: str, alg: str = "RS256") -> bytes:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    token = jws.serialize_compact(
        {"alg": alg, "x5c": [x5c]}, json.dumps(payload).encode(), RSAKey.import_key(pem)
    )
    return token.encode()


def _signed(payload_change: dict[str, Any] | None = None, alg: str = "RS256") -> tuple[Any, bytes]:
    key, x5c = _key_and_cert()
    s = statement(id=str(uuid.uuid4()))
    token = _sign({**s, **(payload_change or {})}, key, x5c, alg)
    signature = {**attachment(token, SIGNATURE_USAGE)}
    return {**s, "attachments": [signature]}, token


def test_signed_statement_is_accepted(http: TestClient, cred: Cred) -> None:
    s, token = _signed()
    r = send(http, cred, multipart(s, (token, hashlib.sha256(token).hexdigest())))
    assert r.status_code == 200, r.text


def test_signature_over_other_content_is_refused(http: TestClient, cred: Cred) -> None:
    s, token = _signed({"verb": {"id": "http://adlnet.gov/expapi/verbs/failed"}})
    r = send(http, cred, multipart(s, (token, hashlib.sha256(token).hexdigest())))
    assert r.status_code == 400
    assert "payload" in r.json()["message"]


def test_signature_with_a_forged_signature_is_refused(http: TestClient, cred: Cred) -> None:
    s, token = _signed()
    head, payload, sig = token.split(b".")
    forged = b".".join([head, payload, sig[:-4] + (b"AAAA" if sig[-4:] != b"AAAA" else b"BBBB")])
    s["attachments"][0] = attachment(forged, SIGNATURE_USAGE)
    r = send(http, cred, multipart(s, (forged, hashlib.sha256(forged).hexdigest())))
    assert r.status_code == 400


def test_signature_that_is_not_a_jws_is_refused(http: TestClient, cred: Cred) -> None:
    s = statement(attachments=[attachment(b"not a jws", SIGNATURE_USAGE)])
    r = send(http, cred, multipart(s, (b"not a jws", hashlib.sha256(b"not a jws").hexdigest())))
    assert r.status_code == 400

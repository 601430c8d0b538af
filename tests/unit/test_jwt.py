"""JWT validation: only configured algorithms, exp/nbf/iss/aud checked, projects and scopes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from core.auth.jwt_tokens import JwtConfig, principal_from_jwt
from core.auth.principal import AuthError

pytestmark = pytest.mark.unit
SECRET = "s3cret-for-tests-only-0123456789abcdef"
HS = JwtConfig(secret=SECRET, audience="core", issuer="https://issuer.test")


def claims(**extra: object) -> dict[str, object]:
    now = int(time.time())
    return {"sub": "svc-1", "exp": now + 60, "aud": "core", "iss": "https://issuer.test",
            "projects": ["p1", "p2"], "scope": "memories:read claims:read", **extra}


def hs256_by_hand(payload: dict[str, object], key: bytes) -> str:
    """Algorithm confusion: an HS256 token signed with the RSA/EC public key as secret."""
    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signing_input = f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}." \
                    f"{b64(json.dumps(payload).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def test_valid_hs256_token() -> None:
    principal = principal_from_jwt(HS, jwt.encode(claims(), SECRET, algorithm="HS256"))
    assert principal.id == "svc-1"
    assert principal.projects == {"p1", "p2"}
    assert principal.holds("claims:read") and not principal.holds("memories:write")


def test_project_id_claim() -> None:
    token = jwt.encode(claims(projects=None, project_id="solo"), SECRET, algorithm="HS256")
    assert principal_from_jwt(HS, token).projects == {"solo"}


@pytest.mark.parametrize("bad", [
    {"exp": int(time.time()) - 10},
    {"nbf": int(time.time()) + 3600},
    {"aud": "someone-else"},
    {"iss": "https://evil.test"},
    {"exp": None},
])
def test_rejected_claims(bad: dict[str, object]) -> None:
    payload = {k: v for k, v in claims(**bad).items() if v is not None}
    with pytest.raises(AuthError):
        principal_from_jwt(HS, jwt.encode(payload, SECRET, algorithm="HS256"))


def test_wrong_signature() -> None:
    with pytest.raises(AuthError):
        principal_from_jwt(HS, jwt.encode(claims(), "another-secret-0123456789abcdef01",
                                          algorithm="HS256"))


def test_alg_none_is_refused() -> None:
    token = jwt.encode(claims(), None, algorithm="none")  # type: ignore[arg-type]
    with pytest.raises(AuthError):
        principal_from_jwt(HS, token)


def test_es256_with_public_key_and_confusion_refused() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    config = JwtConfig(public_key=public_pem, audience="core", issuer="https://issuer.test")
    token = jwt.encode(claims(), private, algorithm="ES256")
    assert principal_from_jwt(config, token).id == "svc-1"
    forged = hs256_by_hand(claims(), public_pem.encode())
    with pytest.raises(AuthError):
        principal_from_jwt(config, forged)

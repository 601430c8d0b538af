"""JWT validation: only configured algorithms, exp/nbf/iss/aud/sub checked, a bounded
lifetime, a principal id apart from API key ids, projects and scopes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from core.auth.jwt_tokens import JwtConfig, principal_from_jwt, secret_problem
from core.auth.principal import AuthError

pytestmark = pytest.mark.unit
SECRET = "s3cret-for-tests-only-0123456789abcdef"
HS = JwtConfig(secret=SECRET, audience="core", issuer="https://issuer.test")


def claims(**extra: object) -> dict[str, object]:
    now = int(time.time())
    return {"sub": "svc-1", "iat": now, "exp": now + 60, "aud": "core", "iss": "https://issuer.test",
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
    assert principal.id == "jwt:svc-1"
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
    {"aud": None},
    {"sub": None},
    {"sub": "  "},
    {"iat": int(time.time()) - 60, "exp": int(time.time()) + 86_400},
    {"iat": None, "exp": int(time.time()) + 100_000},  # exp - now stays over the cap for hours
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
    assert principal_from_jwt(config, token).id == "jwt:svc-1"
    forged = hs256_by_hand(claims(), public_pem.encode())
    with pytest.raises(AuthError):
        principal_from_jwt(config, forged)


def hs(**extra: object) -> str:
    return jwt.encode(claims(**extra), SECRET, algorithm="HS256")


def test_lifetime_up_to_the_maximum_is_accepted() -> None:
    now = int(time.time())
    config = JwtConfig(secret=SECRET, audience="core", issuer="https://issuer.test",
                       max_lifetime_s=600)
    assert principal_from_jwt(config, hs(iat=now - 10, exp=now + 590)).id == "jwt:svc-1"
    with pytest.raises(AuthError, match="longer than 600"):
        principal_from_jwt(config, hs(iat=now - 10, exp=now + 591))


def test_without_audience_configured_aud_is_not_required() -> None:
    config = JwtConfig(secret=SECRET)
    assert principal_from_jwt(config, hs(aud=None)).id == "jwt:svc-1"


def test_sub_never_equals_an_api_key_id() -> None:
    assert principal_from_jwt(HS, hs(sub="key_0123456789ab")).id == "jwt:key_0123456789ab"


def test_all_projects_only_for_admin_tokens() -> None:
    plain = principal_from_jwt(HS, hs(projects=["*", "p1"]))
    assert plain.projects == {"p1"} and not plain.may_use("p2")
    admin = principal_from_jwt(HS, hs(projects=["*"], scope="admin"))
    assert admin.may_use("anything")


@pytest.mark.parametrize(("secret", "refused"), [
    ("", False), ("x" * 31, True), ("x" * 32, False), ("é" * 16, False)])
def test_short_secrets_are_refused(secret: str, refused: bool) -> None:
    assert (secret_problem(secret) is not None) is refused


def test_serve_refuses_a_short_secret_with_one_line() -> None:
    env = {**os.environ, "CORE_JWT_SECRET": "too-short", "DATABASE_URL": "postgresql://nowhere/"}
    done = subprocess.run([sys.executable, "-m", "core.cli", "serve"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "refusing to start: CORE_JWT_SECRET is 9 bytes; HS256 needs at least 32 random bytes"]

"""test_tokens.py: mailed-link JWTs checked with PyJWT and RFC 5869 HKDF (API.md §1, §5, §7).

The key is derived here from $STATE/secret_key exactly as the contract says — HKDF-SHA256 with
no salt, info "usermgr jwt", 32 bytes; the kid from info "usermgr kid", 6 bytes, base64url —
so a product that signs with anything else, or accepts a token it should not, fails here.
"""

import re
import time

import jwt

from accounts_lib import (Browser, b64url, decode_link, hkdf_sha256, jwt_key, kid, link_path,
                          mailed_token, register, secret, sign, sql_one, unsigned,
                          verify_claims)

VERIFY_AUD = "usermgr:verify_email"


def is_verified(stack, account):
    return sql_one(stack, "SELECT email_verified_at IS NOT NULL FROM users WHERE id = %d"
                   % account.id) == "1"


def test_the_hkdf_here_matches_the_rfc_5869_test_vectors():
    # RFC 5869 A.3: SHA-256, no salt, no info — the helper every other test relies on.
    ikm = bytes.fromhex("0b" * 22)
    okm = hkdf_sha256(ikm, b"", 42)
    assert okm.hex() == ("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
                         "9d201395faa4b61a96c8")


def test_the_generated_secret_is_64_hex_characters(stack):
    assert re.fullmatch(r"[0-9a-f]{64}", secret(stack).decode("ascii", "replace")), \
        "secret_key is not 64 hex characters"


def test_a_mailed_verification_token_decodes_with_the_derived_key(stack):
    account = register(stack)
    before = int(time.time())
    token = mailed_token(stack, account.email, "/verify-email")
    header = jwt.get_unverified_header(token)
    assert header.get("alg") == "HS256", header
    assert header.get("kid") == kid(stack), "kid %r, expected %r" % (header.get("kid"),
                                                                     kid(stack))
    claims = decode_link(stack, token, VERIFY_AUD)
    assert claims["sub"] == str(account.id)
    assert claims["email"] == account.email
    assert isinstance(claims["iat"], int) and isinstance(claims["exp"], int), claims
    assert abs(claims["iat"] - before) <= 60, claims
    assert claims["exp"] - claims["iat"] == 24 * 3600, claims


def test_a_verification_token_made_here_is_accepted(stack):
    account = register(stack)
    r = Browser(stack).get(link_path(sign(stack, verify_claims(account)), "/verify-email"))
    assert r.status_code == 200, r.text[:500]
    assert "Your address is verified" in r.text
    assert is_verified(stack, account)


def test_a_verification_token_signed_with_another_key_is_400(stack):
    account = register(stack)
    other = hkdf_sha256(secret(stack) + b"x", b"usermgr jwt", 32)
    r = Browser(stack).get(link_path(sign(stack, verify_claims(account), key=other),
                                     "/verify-email"))
    assert r.status_code == 400, r.text[:500]
    assert not is_verified(stack, account)


def test_a_verification_token_signed_with_the_raw_secret_is_400(stack):
    # The master secret itself is never a signing key: only its HKDF sub-key is.
    account = register(stack)
    r = Browser(stack).get(link_path(sign(stack, verify_claims(account), key=secret(stack)),
                                     "/verify-email"))
    assert r.status_code == 400, r.text[:500]
    assert not is_verified(stack, account)


def test_a_verification_token_with_alg_none_is_400(stack):
    account = register(stack)
    for alg in ("none", "None", "NONE"):
        token = unsigned(verify_claims(account), {"alg": alg, "typ": "JWT", "kid": kid(stack)})
        r = Browser(stack).get(link_path(token, "/verify-email"))
        assert r.status_code == 400, "alg %s: %d" % (alg, r.status_code)
    assert not is_verified(stack, account)


def test_a_verification_token_with_another_hmac_alg_is_400(stack):
    account = register(stack)
    token = jwt.encode(verify_claims(account), jwt_key(stack), algorithm="HS512",
                       headers={"kid": kid(stack)})
    r = Browser(stack).get(link_path(token, "/verify-email"))
    assert r.status_code == 400, r.text[:500]
    assert not is_verified(stack, account)


def test_a_verification_token_with_an_unknown_kid_is_400(stack):
    account = register(stack)
    token = sign(stack, verify_claims(account), headers={"kid": b64url(b"other!")})
    r = Browser(stack).get(link_path(token, "/verify-email"))
    assert r.status_code == 400, r.text[:500]
    assert not is_verified(stack, account)


def test_a_verification_token_for_another_address_is_400(stack):
    # Bound to the address: a link for an address the account no longer has verifies nothing.
    account = register(stack)
    token = sign(stack, verify_claims(account, email="old@example.com", bind="old@example.com"))
    r = Browser(stack).get(link_path(token, "/verify-email"))
    assert r.status_code == 400, r.text[:500]
    assert not is_verified(stack, account)


def test_a_verification_token_for_another_user_is_400(stack):
    account = register(stack)
    victim = register(stack)
    token = sign(stack, verify_claims(account, sub=str(victim.id)))
    r = Browser(stack).get(link_path(token, "/verify-email"))
    assert r.status_code == 400, r.text[:500]
    assert not is_verified(stack, victim)
    assert not is_verified(stack, account)


def test_a_verification_token_without_exp_is_400(stack):
    account = register(stack)
    claims = verify_claims(account)
    del claims["exp"]
    r = Browser(stack).get(link_path(sign(stack, claims), "/verify-email"))
    assert r.status_code == 400, r.text[:500]
    assert not is_verified(stack, account)


def test_an_expired_token_made_here_is_400_token_expired(stack):
    account = register(stack)
    now = int(time.time())
    token = sign(stack, verify_claims(account, iat=now - 90000, exp=now - 3600))
    r = Browser(stack).get(link_path(token, "/verify-email"))
    assert r.status_code == 400, r.text[:500]
    assert "This link has expired" in r.text
    assert not is_verified(stack, account)

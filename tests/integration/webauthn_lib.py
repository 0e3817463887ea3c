"""A software WebAuthn authenticator (CTAP2 semantics, the client's JSON forms) for the passkey tests.

It makes real keys (python3-cryptography), encodes COSE keys, attestation objects and
authenticator data with python3-cbor2, and answers options the way a browser's
credential.toJSON() would: RegistrationResponseJSON / AuthenticationResponseJSON with base64url
strings (WebAuthn Level 3 §5.1.10).  Flags, counters, origins and attestation formats can be
bent so the tests can show every refusal.
"""
import base64
import hashlib
import json
import os
import struct

import cbor2
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

ES256, EDDSA, RS256 = -7, -8, -257
UP, UV, BE, BS, AT, ED = 0x01, 0x04, 0x08, 0x10, 0x40, 0x80


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Credential:
    """One key pair with its COSE form and id."""

    def __init__(self, alg=ES256, cred_id=None):
        self.alg = alg
        self.id = cred_id if cred_id is not None else os.urandom(32)
        if alg == ES256:
            self.key = ec.generate_private_key(ec.SECP256R1())
            nums = self.key.public_key().public_numbers()
            self.cose = cbor2.dumps({1: 2, 3: ES256, -1: 1, -2: nums.x.to_bytes(32, "big"),
                                     -3: nums.y.to_bytes(32, "big")})
        elif alg == EDDSA:
            self.key = ed25519.Ed25519PrivateKey.generate()
            raw = self.key.public_key().public_bytes(serialization.Encoding.Raw,
                                                     serialization.PublicFormat.Raw)
            self.cose = cbor2.dumps({1: 1, 3: EDDSA, -1: 6, -2: raw})
        elif alg == RS256:
            self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            nums = self.key.public_key().public_numbers()
            self.cose = cbor2.dumps({1: 3, 3: RS256, -1: nums.n.to_bytes(256, "big"),
                                     -2: nums.e.to_bytes(3, "big")})
        else:
            raise ValueError(alg)
        self.user_handle = None
        self.count = 0

    def sign(self, data):
        if self.alg == ES256:
            return self.key.sign(data, ec.ECDSA(hashes.SHA256()))
        if self.alg == EDDSA:
            return self.key.sign(data)
        return self.key.sign(data, padding.PKCS1v15(), hashes.SHA256())


class Authenticator:
    """Holds discoverable credentials for one relying party and answers like a browser would."""

    def __init__(self, origin, rp_id=None, alg=ES256, counter=True):
        self.origin = origin
        self.rp_id = rp_id
        self.alg = alg
        self.counter = counter
        self.credentials = []

    def client_data(self, kind, challenge, origin=None, **extra):
        d = {"type": kind, "challenge": challenge, "origin": origin or self.origin,
             "crossOrigin": False}
        d.update(extra)
        return json.dumps(d, separators=(",", ":")).encode()

    def auth_data(self, rp_id, flags, count, attested=b""):
        return hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + \
            struct.pack(">I", count) + attested

    def create(self, public_key, origin=None, rp_id=None, flags=UP | UV, fmt="none",
               att_stmt=None, cred=None, kind="webauthn.create", challenge=None):
        """RegistrationResponseJSON for PublicKeyCredentialCreationOptionsJSON public_key."""
        rp_id = rp_id or self.rp_id or public_key["rp"]["id"]
        cred = cred or Credential(self.alg)
        cred.user_handle = unb64u(public_key["user"]["id"])
        if self.counter:
            cred.count = 1
        attested = b"\0" * 16 + struct.pack(">H", len(cred.id)) + cred.id + cred.cose
        ad = self.auth_data(rp_id, flags | AT, cred.count, attested)
        cd = self.client_data(kind, challenge or public_key["challenge"], origin)
        if att_stmt is None:
            att_stmt = {}
            if fmt == "packed":
                att_stmt = {"alg": cred.alg,
                            "sig": cred.sign(ad + hashlib.sha256(cd).digest())}
        ao = cbor2.dumps({"fmt": fmt, "attStmt": att_stmt, "authData": ad})
        self.credentials.append(cred)
        return {
            "id": b64u(cred.id), "rawId": b64u(cred.id), "type": "public-key",
            "authenticatorAttachment": "platform", "clientExtensionResults": {},
            "response": {"clientDataJSON": b64u(cd), "attestationObject": b64u(ao),
                         "transports": ["internal", "hybrid"],
                         "publicKeyAlgorithm": cred.alg},
        }

    def get(self, public_key, origin=None, rp_id=None, flags=UP | UV, cred=None,
            count=None, kind="webauthn.get", tamper=False, challenge=None):
        """AuthenticationResponseJSON for PublicKeyCredentialRequestOptionsJSON public_key."""
        rp_id = rp_id or self.rp_id or public_key["rpId"]
        if cred is None:
            allowed = {unb64u(c["id"]) for c in public_key.get("allowCredentials", [])}
            usable = [c for c in self.credentials if not allowed or c.id in allowed]
            cred = usable[-1]
        if count is None:
            if self.counter:
                cred.count += 1
            count = cred.count
        ad = self.auth_data(rp_id, flags, count)
        cd = self.client_data(kind, challenge or public_key["challenge"], origin)
        sig = cred.sign(ad + hashlib.sha256(cd).digest())
        if tamper:
            ad = ad[:-1] + bytes([ad[-1] ^ 1])
        return {
            "id": b64u(cred.id), "rawId": b64u(cred.id), "type": "public-key",
            "authenticatorAttachment": "platform", "clientExtensionResults": {},
            "response": {"clientDataJSON": b64u(cd), "authenticatorData": b64u(ad),
                         "signature": b64u(sig),
                         "userHandle": b64u(cred.user_handle) if cred.user_handle else None},
        }

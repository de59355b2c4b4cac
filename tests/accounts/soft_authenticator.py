"""A WebAuthn authenticator in Python, for tests: a real EC P-256 key (the
`cryptography` package) signing real authenticatorData and clientDataJSON, so
py_webauthn verifies genuine answers and the server's refusals are of genuine
forgeries, not of a mock.

    key = SoftAuthenticator()
    answer = key.create(options_json, origin="http://localhost:5000")   # registration
    answer = key.get(options_json, origin="http://localhost:5000")      # an assertion

Keyword arguments make the hostile variants: another origin or RP id, no
user verification, a chosen signature counter, another user handle.
"""
import hashlib
import json
import os
import struct

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url

UP, UV, AT = 0x01, 0x04, 0x40


def _client_data(kind: str, challenge: str, origin: str) -> bytes:
    return json.dumps({"type": kind, "challenge": challenge, "origin": origin,
                       "crossOrigin": False}).encode()


class SoftAuthenticator:
    """One credential (key pair and id) on one pretend device, with its counter."""

    def __init__(self, counter: bool = True):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.user_handle: bytes | None = None
        # Synced passkeys (Apple, Google) keep the counter at 0; security keys count.
        self.counter = counter
        self.sign_count = 0

    @property
    def id(self) -> str:
        return bytes_to_base64url(self.credential_id)

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                            -3: numbers.y.to_bytes(32, "big")})

    def create(self, options_json: str, origin: str, rp_id: str | None = None,
               uv: bool = True) -> str:
        """navigator.credentials.create()'s answer, as the browser's JSON."""
        options = json.loads(options_json)
        rp_id = rp_id or options["rp"]["id"]
        self.user_handle = base64url_to_bytes(options["user"]["id"])
        auth_data = (hashlib.sha256(rp_id.encode()).digest()
                     + bytes([UP | AT | (UV if uv else 0)]) + struct.pack(">I", self.sign_count)
                     + bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id
                     + self._cose_key())
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = _client_data("webauthn.create", options["challenge"], origin)
        return json.dumps({
            "id": self.id, "rawId": self.id, "type": "public-key",
            "authenticatorAttachment": "platform", "clientExtensionResults": {},
            "response": {"clientDataJSON": bytes_to_base64url(client_data),
                         "attestationObject": bytes_to_base64url(attestation),
                         "transports": ["internal"]},
        })

    def get(self, options_json: str, origin: str, rp_id: str | None = None, uv: bool = True,
            sign_count: int | None = None, user_handle: bytes | None = None) -> str:
        """navigator.credentials.get()'s answer, signed with this credential's key."""
        options = json.loads(options_json)
        rp_id = rp_id or options["rpId"]
        if sign_count is None:
            if self.counter:
                self.sign_count += 1
            sign_count = self.sign_count
        auth_data = (hashlib.sha256(rp_id.encode()).digest() + bytes([UP | (UV if uv else 0)])
                     + struct.pack(">I", sign_count))
        client_data = _client_data("webauthn.get", options["challenge"], origin)
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(),
                                  ec.ECDSA(hashes.SHA256()))
        handle = user_handle if user_handle is not None else self.user_handle
        return json.dumps({
            "id": self.id, "rawId": self.id, "type": "public-key",
            "authenticatorAttachment": "platform", "clientExtensionResults": {},
            "response": {"clientDataJSON": bytes_to_base64url(client_data),
                         "authenticatorData": bytes_to_base64url(auth_data),
                         "signature": bytes_to_base64url(signature),
                         "userHandle": bytes_to_base64url(handle) if handle else None},
        })

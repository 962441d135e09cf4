"""RFC 9421 HTTP Message Signatures (Ed25519) on federation requests, both ways.

Covered: ``@method``, ``@target-uri``, ``content-digest`` (SHA-256 of the body), with the
``created`` time, a ``nonce`` and the ``keyid`` as signature parameters.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)
from http_message_signatures.exceptions import HTTPMessageSignaturesException

from yibao.transfers.peers import Federation

COVERED = ("@method", "@target-uri", "content-digest")
TAG = "yibao-federation-v1"  # the signed application tag; other signatures are ignored
MAX_SKEW = timedelta(seconds=300)


class _Headers(dict[str, str]):
    """Case-insensitive enough for the library: we only set canonical names."""


@dataclass
class OutgoingRequest:
    """The minimal message shape the library signs: method, absolute URL, headers."""

    method: str
    url: str
    headers: dict[str, str]


@dataclass
class IncomingRequest:
    """A received request as the library verifies it."""

    method: str
    url: str
    headers: _FieldView


class _FieldView:
    """Read-only header view preserving repeated field lines (as the library requires)."""

    def __init__(self, fields: Iterable[tuple[str, str]]) -> None:
        self._fields = list(fields)

    def items(self) -> Iterable[tuple[str, str]]:
        return list(self._fields)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(dict.fromkeys(k for k, _ in self._fields))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and any(k.lower() == name.lower() for k, _ in self._fields)

    def __setitem__(self, name: str, value: str) -> None:
        raise TypeError("read-only")

    def __delitem__(self, name: str) -> None:
        raise TypeError("read-only")


class _Keys(HTTPSignatureKeyResolver):
    def __init__(self, fed: Federation) -> None:
        self.fed = fed

    def resolve_public_key(self, key_id: str):  # type: ignore[no-untyped-def]
        peer = self.fed.peer_by_key(key_id)
        if peer is None:
            raise InvalidSignature(f"unknown key {key_id!r}")
        return peer.public_key

    def resolve_private_key(self, key_id: str):  # type: ignore[no-untyped-def]
        if key_id != self.fed.key_id:
            raise KeyError(key_id)
        return self.fed.private_key


def sign_request(
    fed: Federation, *, url: str, body: bytes, now: datetime, nonce: str | None = None
) -> dict[str, str]:
    """Headers (Content-Type, Content-Digest, Signature-Input, Signature) for a POST of ``body``."""
    msg = OutgoingRequest("POST", url, {"Content-Type": "application/json"})
    signer = HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=_Keys(fed))
    signer.sign(
        msg,
        key_id=fed.key_id,
        created=now,
        nonce=nonce or secrets.token_urlsafe(16),
        covered_component_ids=COVERED,
        body=body,
        label="yibao",
        tag=TAG,
    )
    return dict(msg.headers)


@dataclass(frozen=True)
class Verified:
    """Who signed a request, and the nonce to record against replays."""

    key_id: str
    agency: str
    nonce: str
    created: int


class SignatureRejected(Exception):
    """The request is not signed as the protocol requires; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def verify_request(
    fed: Federation,
    *,
    method: str,
    url: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    now: datetime,
    nonce_seen: Callable[[str, str], bool] | None = None,
) -> Verified:
    """Check signature, digest, age (≤ 300 s either way) and nonce; raise SignatureRejected."""
    view = _FieldView(headers)
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=_Keys(fed))
    try:
        results = verifier.verify(
            IncomingRequest(method, url, view),
            max_age=None,
            expect_tag=TAG,
            require_components=COVERED,
            body=body,
        )
    except (InvalidSignature, HTTPMessageSignaturesException, ValueError) as exc:
        raise SignatureRejected(str(exc) or exc.__class__.__name__) from None
    if len(results) != 1:
        raise SignatureRejected("exactly one signature expected")
    params: Mapping[str, object] = results[0].parameters
    key_id = str(params.get("keyid", ""))
    nonce = params.get("nonce")
    created = params.get("created")
    if not isinstance(nonce, str) or not nonce:
        raise SignatureRejected("a nonce is required")
    if not isinstance(created, int):
        raise SignatureRejected("a creation time is required")
    skew = abs(now.timestamp() - created)
    if skew > MAX_SKEW.total_seconds():
        raise SignatureRejected(f"creation time off by {int(skew)} s (at most 300 s)")
    peer = fed.peer_by_key(key_id)
    if peer is None:
        raise SignatureRejected(f"unknown key {key_id!r}")
    if nonce_seen is not None and nonce_seen(key_id, nonce):
        raise SignatureRejected("replayed nonce")
    return Verified(key_id=key_id, agency=peer.agency, nonce=nonce, created=created)

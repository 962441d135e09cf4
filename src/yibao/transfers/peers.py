"""Federation configuration: this node's signing key and the peers it talks to.

The peers file (YAML) is documented in docs/federation.md:

    self:
      agency: "500118"
      key_id: "500118"
      private_key_file: keys/500118.key     # PEM, Ed25519; relative to the peers file
    peers:
      - agency: "510500"
        base_url: http://127.0.0.1:8103
        key_id: "510500"
        public_key: |                       # PEM, or public_key_file: keys/510500.pub
          -----BEGIN PUBLIC KEY-----
          ...
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519


@dataclass(frozen=True)
class Peer:
    """A partner agency's node."""

    agency: str
    base_url: str
    key_id: str
    public_key: ed25519.Ed25519PublicKey


@dataclass(frozen=True)
class Federation:
    """Who we are on the wire and whom we trust."""

    agency: str
    key_id: str
    private_key: ed25519.Ed25519PrivateKey
    peers: dict[str, Peer]  # by agency code
    public_url: str | None = None  # our own base URL as peers address us

    def peer_by_key(self, key_id: str) -> Peer | None:
        """The peer that signs with ``key_id``."""
        return next((p for p in self.peers.values() if p.key_id == key_id), None)


def generate_keypair() -> tuple[bytes, bytes]:
    """A new Ed25519 key pair as (private PEM, public PEM)."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def _public(pem: bytes) -> ed25519.Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key


def _private(pem: bytes) -> ed25519.Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ValueError("not an Ed25519 private key")
    return key


def load_federation(path: Path, *, agency: str) -> Federation:
    """Read the peers file; the node's own agency must match ``YIBAO_AGENCY``."""
    data: dict[str, Any] = yaml.safe_load(path.read_text("utf-8"))
    base = path.parent
    own = data["self"]
    if str(own["agency"]) != agency:
        raise ValueError(f"peers file is for agency {own['agency']}, this node is {agency}")
    private = _private((base / own["private_key_file"]).read_bytes())
    peers: dict[str, Peer] = {}
    for p in data.get("peers") or []:
        pem = (
            p["public_key"].encode()
            if "public_key" in p
            else (base / p["public_key_file"]).read_bytes()
        )
        code = str(p["agency"])
        peers[code] = Peer(code, str(p["base_url"]).rstrip("/"), str(p["key_id"]), _public(pem))
    return Federation(
        agency=agency,
        key_id=str(own.get("key_id", agency)),
        private_key=private,
        peers=peers,
        public_url=own.get("public_url"),
    )

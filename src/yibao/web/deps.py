"""FastAPI dependencies: the runtime, the signed-in actor, a unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from yibao.accounts.rules import Actor
from yibao.accounts.service import actor_from_token
from yibao.audit import context as audit_context
from yibao.db import UnitOfWork
from yibao.errors import NotAuthenticated
from yibao.runtime import Runtime

_bearer = HTTPBearer(auto_error=False, description="a token from POST /api/v1/auth/token")


def get_runtime(request: Request) -> Runtime:
    """The process runtime stored on the app."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def client_ip(request: Request) -> str | None:
    """The client's address: the peer's, or X-Forwarded-For's when the peer is a trusted proxy.

    From a trusted proxy the header is read from the right, skipping trusted hops, so a client
    cannot put an address of its choice in front (YIBAO_TRUSTED_PROXIES).
    """
    peer = request.client.host if request.client else None
    runtime: Runtime | None = getattr(request.app.state, "runtime", None)
    trusted = trusted_networks(runtime.settings.trusted_proxies if runtime else "")
    if peer is None or not trusted or not _in(peer, trusted):
        return peer
    hops = [
        h.strip()
        for line in request.headers.getlist("x-forwarded-for")
        for h in line.split(",")
        if h.strip()
    ]
    for hop in reversed(hops):
        if not _in(hop, trusted):
            return hop if _address(hop) is not None else peer
    return peer


@lru_cache(maxsize=8)
def trusted_networks(spec: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """The networks of YIBAO_TRUSTED_PROXIES (comma-separated addresses or CIDRs)."""
    return tuple(ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip())


def _address(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(text)
    except ValueError:
        return None


def _in(host: str, networks: tuple[IPv4Network | IPv6Network, ...]) -> bool:
    addr = _address(host)
    return addr is not None and any(addr in n for n in networks)


def get_actor(
    request: Request,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The actor behind the bearer token; 401 without a valid one."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated("a bearer token is required")
    with runtime.db.session() as session:
        actor = actor_from_token(
            session,
            credentials.credentials,
            secret=runtime.settings.secret_key,
            agency=runtime.agency,
            now=runtime.now(),
            ip=client_ip(request),
        )
    audit_context.set_actor(role=actor.role.value, unit=actor.unit)
    request.state.actor = actor  # the denial audit of this request names it
    return actor


ActorDep = Annotated[Actor, Depends(get_actor)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    """A read session for one request."""
    with runtime.db.session() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_uow(runtime: RuntimeDep) -> Iterator[UnitOfWork]:
    """A writing unit of work for one request."""
    with runtime.db.uow() as uow:
        yield uow


UowDep = Annotated[UnitOfWork, Depends(get_uow)]

"""FastAPI dependencies: the runtime, the signed-in actor, a unit of work."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from yibao.accounts.rules import Actor
from yibao.accounts.service import actor_from_token
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
    """The client's address as the server sees it."""
    return request.client.host if request.client else None


def get_actor(
    request: Request,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The actor behind the bearer token; 401 without a valid one."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise NotAuthenticated("a bearer token is required")
    with runtime.db.session() as session:
        return actor_from_token(
            session,
            credentials.credentials,
            secret=runtime.settings.secret_key,
            agency=runtime.agency,
            now=runtime.now(),
            ip=client_ip(request),
        )


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

"""HTTP adapters of field mode: the central endpoints laptops call, and the laptop's own."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from yibao.accounts.rules import Actor
from yibao.errors import NotAuthenticated
from yibao.field import central
from yibao.field.models import FieldDevice
from yibao.runtime import Runtime
from yibao.web.deps import ActorDep, RuntimeDep, SessionDep, UowDep, client_ip

router = APIRouter(prefix="/api/v1/field", tags=["field"])
_bearer = HTTPBearer(auto_error=False)


def device_auth(
    request: Request,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> tuple[Actor, FieldDevice]:
    """The team member and laptop behind a device token."""
    if credentials is None:
        raise NotAuthenticated("a device token is required")
    with runtime.db.session() as s:
        return central.device_actor(
            s, runtime=runtime, token=credentials.credentials, ip=client_ip(request)
        )


DeviceDep = Annotated[tuple[Actor, FieldDevice], Depends(device_auth)]


class DeviceIn(BaseModel):
    """A laptop to register."""

    model_config = ConfigDict(extra="forbid")
    label: str = Field(default="", max_length=100)


class SyncIn(BaseModel):
    """A batch of laptop records, each with its client-made id."""

    model_config = ConfigDict(extra="forbid")
    records: list[dict[str, Any]] = Field(max_length=200)


def _device_dict(d: FieldDevice, runtime: Runtime) -> dict[str, Any]:
    now = runtime.now()
    return {
        "id": str(d.id),
        "username": d.username,
        "station": d.station_code,
        "label": d.label,
        "created_at": d.created_at.isoformat(),
        "last_sync_at": d.last_sync_at.isoformat() if d.last_sync_at else None,
        "revoked_at": d.revoked_at.isoformat() if d.revoked_at else None,
        "stale": bool(central.stale([d], now)),
    }


@router.post("/devices", status_code=201)
def register(body: DeviceIn, runtime: RuntimeDep, actor: ActorDep, uow: UowDep) -> dict[str, Any]:
    """Register a laptop for the signed-in team member; returns its device token (30 days)."""
    device, token = central.register_device(uow, runtime=runtime, actor=actor, label=body.label)
    return {**_device_dict(device, runtime), "device_token": token}


@router.post("/devices/{device_id}/token")
def renew(
    device_id: uuid.UUID, runtime: RuntimeDep, actor: ActorDep, uow: UowDep
) -> dict[str, Any]:
    """A fresh device token (30 days) for the signed-in member's own laptop."""
    device, token = central.renew_device(uow, runtime=runtime, actor=actor, device_id=device_id)
    return {**_device_dict(device, runtime), "device_token": token}


@router.get("/devices")
def list_devices(runtime: RuntimeDep, actor: ActorDep, session: SessionDep) -> list[dict[str, Any]]:
    """Registered laptops, with those not synced for 3 days flagged ``stale``."""
    return [
        _device_dict(d, runtime) for d in central.devices(session, runtime=runtime, actor=actor)
    ]


@router.post("/devices/{device_id}/revoke")
def revoke(
    device_id: uuid.UUID, runtime: RuntimeDep, actor: ActorDep, uow: UowDep
) -> dict[str, Any]:
    """Revoke a lost laptop."""
    return _device_dict(
        central.revoke(uow, runtime=runtime, actor=actor, device_id=device_id), runtime
    )


@router.get("/bundle")
def get_bundle(runtime: RuntimeDep, device: DeviceDep, session: SessionDep) -> dict[str, Any]:
    """Reference data and the station's cases waiting for materials (masked), for a day offline."""
    actor, _d = device
    return central.bundle(session, runtime=runtime, actor=actor)


@router.post("/sync")
def sync(body: SyncIn, runtime: RuntimeDep, device: DeviceDep) -> dict[str, Any]:
    """Apply laptop records in order; one answer per record (accepted, refused, conflict)."""
    actor, d = device
    return {"results": central.sync(runtime, actor=actor, device=d, records=body.records)}


@router.get("/conflicts")
def list_conflicts(
    runtime: RuntimeDep, actor: ActorDep, session: SessionDep
) -> list[dict[str, Any]]:
    """Synced records the central node refused or found changed meanwhile."""
    return [
        {
            "client_id": str(r.client_id),
            "device_id": str(r.device_id),
            "kind": r.kind,
            "status": r.status,
            "case_no": r.case_no,
            "detail": r.detail,
            "at": r.at.isoformat(),
        }
        for r in central.conflicts(session, runtime=runtime, actor=actor)
    ]

"""The endpoint partner nodes call: signed messages in, acknowledgements out."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from yibao.audit import service as audit
from yibao.audit import witness
from yibao.errors import Conflict, ValidationFailed
from yibao.runtime import Runtime
from yibao.transfers import service
from yibao.transfers.models import SeenNonce
from yibao.transfers.signing import MAX_SKEW, SignatureRejected, Verified, verify_request
from yibao.web.openapi import problem_response, problem_responses
from yibao.web.problems import domain_problem, problem

log = logging.getLogger("yibao.federation")
router = APIRouter(prefix="/federation/v1", tags=["federation"])


@router.post(
    "/messages",
    responses={
        **problem_responses(400, 401, 404, 422),
        503: problem_response(503, "Busy: the transfer is being updated; retry (Retry-After)"),
    },
)
async def receive_message(request: Request) -> JSONResponse:
    """A signed message from a partner node (RFC 9421, Ed25519); 200 also for a duplicate."""
    runtime: Runtime = request.app.state.runtime
    fed = runtime.federation
    if fed is None:
        return problem(404, "Not found", "this node takes part in no federation")
    body = await request.body()
    url = (fed.public_url.rstrip("/") + request.url.path) if fed.public_url else str(request.url)
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]]
    return await run_in_threadpool(_handle, runtime, request, url, headers, body)


@router.api_route("/messages", methods=["PUT", "PATCH", "DELETE"], include_in_schema=False)
async def other_method(request: Request) -> JSONResponse:
    """Any other method is checked like a POST first: a POST's signature on it is refused (401,
    logged) as a bad signature; a request signed for that method gets 405."""
    return await receive_message(request)


def _handle(
    runtime: Runtime, request: Request, url: str, headers: list[tuple[str, str]], body: bytes
) -> JSONResponse:
    fed = runtime.federation
    assert fed is not None
    now = runtime.now()
    ip = request.client.host if request.client else None

    def nonce_seen(key_id: str, nonce: str) -> bool:
        with runtime.db.session() as s:
            return (
                s.scalar(
                    select(SeenNonce.id).where(
                        SeenNonce.agency == runtime.agency,
                        SeenNonce.key_id == key_id,
                        SeenNonce.nonce == nonce,
                    )
                )
                is not None
            )

    try:
        who = verify_request(
            fed,
            method=request.method,
            url=url,
            headers=headers,
            body=body,
            now=now,
            nonce_seen=nonce_seen,
        )
    except SignatureRejected as exc:
        _refused(runtime, ip, exc.reason)
        return problem(
            401, "Signature refused", exc.reason, type_="https://yibao.example/problems/signature"
        )
    if request.method != "POST":
        return problem(405, "Method not allowed", "messages are POSTed", headers={"Allow": "POST"})
    try:
        payload: Any = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return problem(
            400,
            "Malformed JSON",
            "the message body is not valid JSON",
            errors=[{"field": "body", "message": "not valid JSON"}],
        )
    try:
        with runtime.db.uow() as uow:
            _record_nonce(uow.session, runtime, who)
            if witness.is_audit_message(payload):
                # A partner's audit checkpoint to witness, or its countersignature of ours.
                outcome = witness.receive(uow, runtime=runtime, sender=who.agency, payload=payload)
            else:
                outcome = service.receive(uow, runtime=runtime, sender=who.agency, payload=payload)
    except ValidationFailed as exc:
        return domain_problem(exc)
    except Conflict as exc:
        if witness.is_audit_message(payload):
            # A checkpoint that contradicts one already witnessed: recorded, never taken.
            return domain_problem(exc)
        # Another delivery of this transfer is being applied right now: try again shortly.
        return problem(
            503, "Busy", "the transfer is being updated; retry", headers={"Retry-After": "1"}
        )
    except IntegrityError:
        # The same message (or nonce) raced in twice; the other copy won.
        return JSONResponse({"status": "duplicate"})
    runtime.on_outbox()
    return JSONResponse({"status": outcome})


def _record_nonce(session: Any, runtime: Runtime, who: Verified) -> None:
    # The nonce commits with the effect: a replay is refused even after a crash in between.
    session.add(
        SeenNonce(agency=runtime.agency, key_id=who.key_id, nonce=who.nonce, seen_at=runtime.now())
    )
    # Nonces older than twice the allowed skew can never be replayed successfully anyway.
    session.execute(
        delete(SeenNonce).where(
            SeenNonce.agency == runtime.agency, SeenNonce.seen_at < runtime.now() - 2 * MAX_SKEW
        )
    )


def _refused(runtime: Runtime, ip: str | None, reason: str) -> None:
    log.warning("refused federation message from %s: %s", ip, reason)
    with runtime.db.uow() as uow:
        audit.record(
            uow.session,
            agency=runtime.agency,
            actor_id=None,
            actor_name="federation",
            action="federation.refused",
            object_type="message",
            object_id="-",
            ip=ip,
            detail={"reason": reason[:500]},
        )
        uow.commit()

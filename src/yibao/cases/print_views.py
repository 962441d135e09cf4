"""Printable pages of a case: the intake receipt and the one-time notice, as HTML and PDF."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from yibao.accounts.rules import Actor
from yibao.cases import printables, printables_pdf, service
from yibao.cases.models import CaseEvent
from yibao.errors import Forbidden, NotFound
from yibao.runtime import Runtime
from yibao.stations.models import Agency, Station
from yibao.web.deps import RuntimeDep
from yibao.web.i18n import gettext as _
from yibao.web.pages import PageActor, PageForbidden, render

router = APIRouter(include_in_schema=False)

# Personal data: neither shared caches nor the browser's back-forward cache should keep it.
NO_STORE = {"Cache-Control": "no-store"}


def _document(
    request: Request, runtime: Runtime, actor: Actor, case_no: str, kind: str
) -> dict[str, Any] | None:
    """The document's data; None for a case out of sight or one without such a document."""
    with runtime.db.session() as session:
        try:
            case = service.get_case(session, actor=actor, case_no=case_no)
        except NotFound:
            return None
        except Forbidden:
            raise PageForbidden from None
        events = list(
            session.scalars(
                select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)
            )
        )
        agency = session.get(Agency, runtime.agency)
        addresses: dict[str, str | None] = {
            code: address
            for code, address in session.execute(
                select(Station.code, Station.address).where(Station.agency == runtime.agency)
            )
        }
        ref = runtime.reference()
        common: dict[str, Any] = {
            "events": events,
            "agency_name": agency.name_zh if agency else runtime.agency,
            "addresses": addresses,
            "public_url": _public_url(request, runtime.settings.public_url, case.case_no),
        }
        if kind == "receipt":
            return printables.receipt_data(case, ref, runtime.today(), tz=runtime.tz, **common)
        return printables.notice_data(case, ref, runtime.today(), tz=runtime.tz, **common)


def _not_found(request: Request) -> Response:
    return render(
        request,
        "error.html",
        {
            "title": _("Not found"),
            "message": _("There is no such document for a case you may see."),
        },
        status_code=404,
        headers=NO_STORE,
    )


def _html(request: Request, data: dict[str, Any] | None, template: str) -> Response:
    if data is None:
        return _not_found(request)
    context = {"d": data, "qr": printables.qr_svg(str(data["public_url"]))}
    return render(request, template, context, headers=NO_STORE)


def _pdf(
    request: Request,
    data: dict[str, Any] | None,
    build: Callable[[dict[str, Any]], bytes],
    name: str,
) -> Response:
    if data is None:
        return _not_found(request)
    body = build(data)
    # The case number comes from the database (digits only), never from the raw path.
    return Response(
        body,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{name}-{data["case_no"]}.pdf"',
            **NO_STORE,
        },
    )


@router.get("/cases/{case_no}/receipt")
def receipt_page(request: Request, case_no: str, actor: PageActor, runtime: RuntimeDep) -> Response:
    """The intake receipt (受理回执), ready to print."""
    return _html(
        request, _document(request, runtime, actor, case_no, "receipt"), "print/receipt.html"
    )


@router.get("/cases/{case_no}/receipt.pdf")
def receipt_pdf(request: Request, case_no: str, actor: PageActor, runtime: RuntimeDep) -> Response:
    """The intake receipt as a PDF (always Chinese)."""
    data = _document(request, runtime, actor, case_no, "receipt")
    return _pdf(request, data, printables_pdf.receipt_pdf, "receipt")


@router.get("/cases/{case_no}/notice")
def notice_page(request: Request, case_no: str, actor: PageActor, runtime: RuntimeDep) -> Response:
    """The one-time notice of missing materials (一次性告知书), ready to print."""
    return _html(
        request, _document(request, runtime, actor, case_no, "notice"), "print/notice.html"
    )


@router.get("/cases/{case_no}/notice.pdf")
def notice_pdf(request: Request, case_no: str, actor: PageActor, runtime: RuntimeDep) -> Response:
    """The one-time notice as a PDF (always Chinese)."""
    data = _document(request, runtime, actor, case_no, "notice")
    return _pdf(request, data, printables_pdf.notice_pdf, "notice")


def _public_url(request: Request, configured: str, case_no: str) -> str:
    """The citizen page's address for the QR: the configured public URL, else this request's."""
    if configured:
        return f"{configured.rstrip('/')}/public/cases/{case_no}"
    return str(request.url_for("public_case", case_no=case_no))

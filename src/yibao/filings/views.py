"""HTML pages of filings: the registry, filing on the spot, one filing, and the case panel."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from yibao.accounts.rules import Actor, Role
from yibao.cases import panels
from yibao.cases import service as case_service
from yibao.cases.models import Case
from yibao.errors import (
    ActionNotAllowed,
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    ValidationFailed,
)
from yibao.filings import api, divisions, panel, rules, service
from yibao.filings.models import Filing
from yibao.filings.rules import Basis, Kind, State
from yibao.filings.service import CancelIn, ChangeIn, FilingFilter, FilingIn
from yibao.runtime import Runtime
from yibao.web import i18n
from yibao.web.deps import RuntimeDep
from yibao.web.i18n import gettext as _
from yibao.web.pages import (
    CsrfDep,
    PageActor,
    error_message,
    field_errors,
    pydantic_errors,
    render,
    require_roles,
)

router = APIRouter(include_in_schema=False)

READERS = (Role.CLERK, Role.STATION_MASTER, Role.BUREAU_OFFICER, Role.SUPERVISOR)
PAGE_SIZE = 30
TERM_FIELDS = (
    "kind",
    "basis",
    "documents",
    "province",
    "city",
    "start_date",
    "end_date",
    "admission_date",
    "note",
)
Q = Annotated[str | None, Query(max_length=40)]


def _zh() -> bool:
    return i18n.current_locale.get() == "zh_CN"


def _labels() -> dict[str, Any]:
    zh = _zh()
    return {
        "kind_labels": {
            k.value: (rules.KIND_LABELS_ZH if zh else rules.KIND_LABELS_EN)[k] for k in Kind
        },
        "state_labels": {
            s.value: (rules.STATE_LABELS_ZH if zh else rules.STATE_LABELS_EN)[s] for s in State
        },
        "basis_labels": {
            b.value: (rules.BASIS_LABELS_ZH if zh else rules.BASIS_LABELS_EN)[b] for b in Basis
        },
        "action_labels": {
            a.value: (rules.ACTION_LABELS_ZH if zh else rules.ACTION_LABELS_EN)[a]
            for a in rules.Action
        },
        "long_term": [k.value for k in rules.LONG_TERM],
        "provinces": [(p.code, p.name) for p in divisions.load().provinces],
    }


def _dicts(
    runtime: Runtime, rows: list[Filing], actor: Actor | None = None
) -> list[dict[str, Any]]:
    ref, today = runtime.reference(), runtime.today()
    return [service.filing_dict(f, ref, today, actor) for f in rows]


# ---------------------------------------------------------------- the registry


@dataclass
class RegistryQuery:
    """The registry's query string."""

    state: Q = None
    kind: Q = None
    province: Q = None
    station: Q = None
    expiring: Q = None
    cursor: Annotated[str | None, Query(max_length=400)] = None
    id_number: Q = None


def _registry(
    request: Request,
    runtime: Runtime,
    actor: Actor,
    rq: RegistryQuery,
    *,
    person_id: str | None = None,
) -> HTMLResponse:
    require_roles(actor, *READERS)
    errors: dict[str, str] = {}
    filters = FilingFilter(
        state=rq.state or None,
        kind=rq.kind or None,
        province=rq.province or None,
        station=rq.station or None,
        expiring=bool(rq.expiring),
    )
    rows: list[dict[str, Any]] = []
    next_cursor = None
    person: list[dict[str, Any]] | None = None
    person_masked = ""
    person_value = ""
    ref = runtime.reference()
    with runtime.db.session() as session:
        try:
            found, next_cursor = service.list_filings(
                session,
                runtime=runtime,
                actor=actor,
                filters=filters,
                limit=PAGE_SIZE,
                cursor=rq.cursor,
            )
            previous = service.with_previous(session, found)
            rows = _dicts(runtime, found)
            for row, f in zip(rows, found, strict=True):
                row["previous_filing_no"] = previous.get(f.id)
        except ValidationFailed as exc:
            errors = field_errors(exc)
        expiring = service.count_expiring(session, runtime=runtime, actor=actor)
    if person_id is not None:
        try:
            with runtime.db.uow() as uow:
                found_person = service.lookup(
                    uow, runtime=runtime, actor=actor, id_number=person_id
                )
                person = _dicts(runtime, found_person, actor)
            from yibao.people.rules import mask_id

            person_masked = mask_id(person_id.strip())
            person_value = person_id.strip().upper()
        except ValidationFailed as exc:
            errors["id_number"] = next(iter(field_errors(exc).values()), "")
    query = {
        k: v
        for k, v in {
            "state": rq.state,
            "kind": rq.kind,
            "province": rq.province,
            "station": rq.station,
            "expiring": rq.expiring,
        }.items()
        if v
    }
    ctx = {
        **_labels(),
        "rows": rows,
        "next_cursor": next_cursor,
        "query": query,
        "filters": query,
        "errors": errors,
        "expiring_count": expiring,
        "expiring_days": rules.EXPIRING_DAYS,
        "stations": list(ref.unit_names.items()) if actor.agency_wide else [],
        "can_file": service.may_file(actor, ref),
        "can_export": actor.role in service.EXPORTERS,
        "person": person,
        "person_masked": person_masked,
        "person_id": person_value,
    }
    return render(request, "filings/list.html", ctx, status_code=422 if errors else 200)


@router.get("/filings")
def registry(
    request: Request,
    runtime: RuntimeDep,
    actor: PageActor,
    rq: Annotated[RegistryQuery, Depends()],
) -> HTMLResponse:
    """The registry: filters, expiring soon, a person's filings by ID number (audited)."""
    person = rq.id_number.strip() if rq.id_number and rq.id_number.strip() else None
    return _registry(request, runtime, actor, rq, person_id=person)


@router.post("/filings/lookup")
async def lookup(
    request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> HTMLResponse:
    """A person's filings by full ID number (POST keeps the number out of access logs)."""
    form = await request.form()
    raw = str(form.get("id_number") or "")[:40]
    return _registry(request, runtime, actor, RegistryQuery(), person_id=raw)


@router.get("/filings/export.csv", response_model=None)
def export_csv(runtime: RuntimeDep, actor: PageActor) -> Response:
    """The active registry as CSV, with full ID numbers (bureau and supervisors; audited)."""
    return _export(runtime, actor, "csv")


@router.get("/filings/export.xlsx", response_model=None)
def export_xlsx(runtime: RuntimeDep, actor: PageActor) -> Response:
    """The active registry as Excel, with full ID numbers (bureau and supervisors; audited)."""
    return _export(runtime, actor, "xlsx")


def _export(runtime: Runtime, actor: Actor, fmt: str) -> Response:
    require_roles(actor, *sorted(service.EXPORTERS))
    with runtime.db.uow() as uow:
        return api.export_response(runtime, actor, uow, fmt)


# ---------------------------------------------------------------- filing on the spot


@router.get("/filings/cities")
def cities(
    request: Request,
    actor: PageActor,
    province: Annotated[str, Query(max_length=10)] = "",
    city: Annotated[str, Query(max_length=10)] = "",
) -> HTMLResponse:
    """The city choices of a province (HTMX swaps them in when the province changes)."""
    return render(
        request,
        "filings/_cities.html",
        {"cities": divisions.load().cities(province), "selected": city, "errors": {}},
    )


def _form_context(runtime: Runtime, values: dict[str, Any]) -> dict[str, Any]:
    return {
        **_labels(),
        "values": values,
        "cities": divisions.load().cities(str(values.get("province") or "")),
        "today": runtime.today(),
        "months": rules.TEMPORARY_MONTHS,
    }


@router.get("/filings/new")
def new_filing(
    request: Request,
    runtime: RuntimeDep,
    actor: PageActor,
    id_number: Q = None,
    name: Q = None,
    phone: Q = None,
    case: Q = None,
) -> HTMLResponse:
    """备案 on the spot: one short form; prefilled from a case or from the query."""
    require_roles(actor, Role.CLERK, Role.STATION_MASTER)
    values: dict[str, Any] = {
        "id_number": id_number or "",
        "name": name or "",
        "phone": phone or "",
        "basis": "proof",
        "kind": "",
    }
    if case and case.isascii() and case.isalnum():
        with runtime.db.session() as session:
            try:
                found = case_service.get_case(session, actor=actor, case_no=case)
                values.update(
                    id_number=found.applicant_id_number,
                    name=found.applicant_name,
                    phone=found.applicant_phone,
                )
            except (NotFound, Forbidden):
                pass
    ctx = _form_context(runtime, values)
    message = None
    if not service.may_file(actor, runtime.reference()) or runtime.field_hook is not None:
        message = _("Your station cannot file a 备案 on the spot here.")
    ctx.update(errors={}, message=message, request_key=str(uuid.uuid4()))
    return render(request, "filings/new.html", ctx)


def _documents(raw: str) -> list[str]:
    for sep in ("；", ";", "，", "、", "\n"):
        raw = raw.replace(sep, ",")
    return [d.strip() for d in raw.split(",") if d.strip()]


def _date(raw: str, field: str, errors: dict[str, str]) -> date | None:
    text = raw.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors[field] = _("Not a date (YYYY-MM-DD).")
        return None


def _terms_from(form: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """(values as typed, the terms' fields for the input model, date errors)."""
    values: dict[str, Any] = {k: str(form.get(k) or "")[:2000] for k in TERM_FIELDS}
    values["settled"] = bool(form.get("settled"))
    errors: dict[str, str] = {}
    fields: dict[str, Any] = {
        "kind": values["kind"],
        "basis": values["basis"],
        "documents": _documents(values["documents"]),
        "province": values["province"],
        "city": values["city"],
        "start_date": _date(values["start_date"], "start_date", errors),
        "end_date": _date(values["end_date"], "end_date", errors),
        "admission_date": _date(values["admission_date"], "admission_date", errors),
        "settled": values["settled"],
        "note": values["note"].strip() or None,
    }
    return values, fields, errors


def _flat(errors: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, msg in errors.items():
        flat = name.removeprefix("person.")
        if flat.startswith("documents["):
            flat = "documents"
        out.setdefault(flat, msg)
    return out


@router.post("/filings/new")
async def create_filing(
    request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """One transaction: the case opened and completed, the filing recorded, audited."""
    require_roles(actor, Role.CLERK, Role.STATION_MASTER)
    form = await request.form()
    values, fields, errors = _terms_from(form)
    for k in ("id_number", "name", "phone"):
        values[k] = str(form.get(k) or "")[:60]
    key = str(form.get("request_key") or "")[:64] or None
    message = None
    if not errors:
        try:
            body = FilingIn(
                person={
                    "id_number": values["id_number"],
                    "name": values["name"],
                    "phone": values["phone"],
                },
                **fields,
            )
            with runtime.db.uow() as uow:
                filing = service.create(
                    uow, runtime=runtime, actor=actor, request=body, request_key=key
                )
            return RedirectResponse(f"/filings/{filing.filing_no}?done=created", status_code=303)
        except ValidationError as exc:
            failure: DomainError = pydantic_errors(exc.errors())  # type: ignore[arg-type]
            errors, message = field_errors(failure), error_message(failure)
        except DomainError as exc:
            errors, message = field_errors(exc), error_message(exc)
    else:
        message = _("Please correct the marked fields.")
    ctx = _form_context(runtime, values)
    ctx.update(errors=_flat(errors), message=message, request_key=key or str(uuid.uuid4()))
    return render(request, "filings/new.html", ctx, status_code=422)


# ---------------------------------------------------------------- one filing


def _filing_page(
    request: Request,
    runtime: Runtime,
    actor: Actor,
    filing_no: str,
    *,
    id_number: str | None = None,
    status_code: int = 200,
    message: str | None = None,
    errors: dict[str, str] | None = None,
    failed: str | None = None,
    values: dict[str, Any] | None = None,
) -> HTMLResponse:
    require_roles(actor, *READERS)
    with runtime.db.session() as session:
        try:
            filing = service.get(session, actor=actor, filing_no=filing_no, id_number=id_number)
        except (NotFound, Forbidden):
            return render(
                request,
                "error.html",
                {
                    "title": _("Filing not found"),
                    "message": _("No filing %(no)s that you may see.") % {"no": filing_no[:30]},
                },
                status_code=404,
            )
        view = service.filing_dict(filing, runtime.reference(), runtime.today(), actor)
        linked = _dicts(runtime, service.chain(session, filing))
    current = values or {
        "kind": view["kind"],
        "basis": view["basis"],
        "documents": "、".join(view["documents"]),
        "province": view["destination"]["province_code"],
        "city": view["destination"]["city_code"],
        "start_date": "",
        "end_date": "",
    }
    ctx = _form_context(runtime, current)
    ctx.update(
        filing=view,
        chain=linked,
        id_number=id_number or "",
        message=message,
        errors=errors or {},
        failed=failed,
        done=request.query_params.get("done"),
    )
    return render(request, "filings/filing.html", ctx, status_code=status_code)


@router.get("/filings/{filing_no}")
def filing_page(
    filing_no: str, request: Request, runtime: RuntimeDep, actor: PageActor
) -> HTMLResponse:
    """One filing: the person (masked), the terms, its chain, change and cancel forms."""
    return _filing_page(request, runtime, actor, filing_no[:30])


@router.post("/filings/{filing_no}")
async def filing_page_for_person(
    filing_no: str, request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> HTMLResponse:
    """The same page reached from a lookup by full ID number (a filing made elsewhere)."""
    form = await request.form()
    return _filing_page(
        request, runtime, actor, filing_no[:30], id_number=str(form.get("id_number") or "")[:40]
    )


async def _act(
    request: Request, runtime: Runtime, actor: Actor, filing_no: str, action: str
) -> Response:
    require_roles(actor, Role.CLERK, Role.STATION_MASTER)
    form = await request.form()
    id_number = str(form.get("id_number") or "")[:40] or None
    reason = str(form.get("reason") or "")[:500]
    try:
        version = max(int(str(form.get("version") or "1")), 1)
    except ValueError:
        version = 1
    values: dict[str, Any] | None = None
    try:
        with runtime.db.uow() as uow:
            if action == "change":
                values, fields, date_errors = _terms_from(form)
                if date_errors:
                    raise ValidationFailed.single(
                        next(iter(date_errors)), "not a date", next(iter(date_errors.values()))
                    )
                body = ChangeIn(version=version, reason=reason, id_number=id_number, **fields)
                new = service.change(
                    uow, runtime=runtime, actor=actor, filing_no=filing_no, request=body
                )
            else:
                cancel_in = CancelIn(version=version, reason=reason, id_number=id_number)
                new = service.cancel(
                    uow, runtime=runtime, actor=actor, filing_no=filing_no, request=cancel_in
                )
        return RedirectResponse(f"/filings/{new.filing_no}?done={action}", status_code=303)
    except ValidationError as exc:
        failure = pydantic_errors(exc.errors())  # type: ignore[arg-type]
        errors, message, status = field_errors(failure), error_message(failure), 422
    except Conflict:
        errors, status = {}, 409
        message = _("Someone else changed this filing meanwhile; this is its current state.")
    except DomainError as exc:
        errors, message = field_errors(exc), error_message(exc)
        status = (
            422
            if isinstance(exc, ValidationFailed | ActionNotAllowed)
            else 404
            if isinstance(exc, NotFound)
            else 403
        )
        if not errors:
            message = (
                exc.detail if not _zh() else _("This filing cannot be changed or cancelled now.")
            )
    return _filing_page(
        request,
        runtime,
        actor,
        filing_no,
        id_number=id_number,
        status_code=status,
        message=message,
        errors=_flat(errors),
        failed=action,
        values=values,
    )


@router.post("/filings/{filing_no}/change")
async def change(
    filing_no: str, request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """New terms: a new record; the old one becomes 已变更."""
    return await _act(request, runtime, actor, filing_no[:30], "change")


@router.post("/filings/{filing_no}/cancel")
async def cancel(
    filing_no: str, request: Request, runtime: RuntimeDep, actor: PageActor, _csrf: CsrfDep
) -> Response:
    """Cancel: a cancellation record; the old one becomes 已取消."""
    return await _act(request, runtime, actor, filing_no[:30], "cancel")


# ---------------------------------------------------------------- the case panel


@panels.register
def person_filings_panel(
    session: Session, runtime: Runtime, actor: Actor, case: Case
) -> tuple[str, dict[str, Any]] | None:
    """The applicant's filings, with a link to file one (prefilled), where they matter.

    Which cases show it is ``filings.panel.shows_panel`` (docs/filings.md).
    """
    if actor.role not in (Role.CLERK, Role.STATION_MASTER, Role.BUREAU_OFFICER, Role.SUPERVISOR):
        return None
    rows = service.for_person(session, agency=actor.agency, id_number=case.applicant_id_number)
    ref, today = runtime.reference(), runtime.today()
    if not panel.shows_panel(case.service_code, [(f.state, f.end_date) for f in rows], today):
        return None
    shown = [service.filing_dict(f, ref, today) for f in rows[:10]]
    visible_nos = {f.filing_no for f in rows if actor.agency_wide or f.station_code == actor.unit}
    return (
        "filings/_panel.html",
        {
            **_labels(),
            "rows": shown,
            "more": len(rows) > len(shown),
            "linkable": visible_nos,
            "case_no": case.case_no,
            "can_file": service.may_file(actor, ref) and runtime.field_hook is None,
        },
    )

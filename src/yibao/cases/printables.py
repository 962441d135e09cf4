"""Printed documents of a case: the intake receipt (受理回执) and the one-time notice of missing
materials (一次性告知书), as plain data for the HTML pages and as Chinese PDFs.

The data builders read only what they are given (a case, its events, reference data), so the
documents can be tested without a database; the PDFs use reportlab's built-in CID font, so no
font file has to ship with the package.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, tzinfo
from typing import Any
from xml.sax.saxutils import escape

import qrcode
import qrcode.image.svg
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib import textsplit as rl_textsplit
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4, A5
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus import paragraph as rl_paragraph
from sqlalchemy.orm import object_session

from yibao.cases import lifecycle, rules
from yibao.cases.lifecycle import Action, State
from yibao.cases.models import Case, CaseEvent
from yibao.cases.present import case_timing
from yibao.cases.public import NEXT_STEP_ZH
from yibao.people.rules import mask_id, mask_name
from yibao.runtime import Reference

FONT = "STSong-Light"
FRAME_PADDING = 12  # points: platypus frames keep 6 pt clear on each side
HOTLINE = "12393"  # the national healthcare-security service hotline

CHANNEL_LABELS_ZH: dict[str, str] = {
    "window": "窗口受理",
    "mobile": "流动服务站受理",
    "online": "网上申请",
    "phone": "电话申请",
}
CHANNEL_LABELS_EN: dict[str, str] = {
    "window": "At the window",
    "mobile": "Mobile station",
    "online": "Online",
    "phone": "By phone",
}
NEXT_STEP_EN: dict[State, str] = {
    State.RECEIVED: "Your application has been accepted. Please wait; no need to come again.",
    State.IN_PROGRESS: "Your case is being handled. Watch for the result by the promised date.",
    State.MATERIALS_PENDING: "Bring the missing materials listed above to the station; "
    "the time limit pauses until they are complete.",
    State.FORWARDED: "Passed to the unit that can complete it; you need not go there.",
    State.COMPLETED: "Completed.",
    State.REJECTED: "Not accepted. Ask at the station if you have questions.",
    State.WITHDRAWN: "Withdrawn.",
}

# The citizen page lists the missing materials below its text; the receipt lists them above.
RECEIPT_NEXT_STEP_ZH: dict[State, str] = {
    State.MATERIALS_PENDING: "请带齐上表所列尚缺材料，到受理的服务站补正；"
    "补正期间办理时限暂停计算。",
}

# ---------------------------------------------------------------- data


def date_zh(value: date) -> str:
    """A date as official documents write it: 2026年9月29日."""
    return f"{value.year}年{value.month}月{value.day}日"


def _materials(codes: Sequence[str], ref: Reference) -> list[dict[str, str]]:
    return [
        {
            "code": code,
            "name": ref.material_names.get(code, (code, code))[0],
            "name_en": ref.material_names.get(code, (code, code))[1],
        }
        for code in codes
    ]


def _unit_at(case: Case, events: Sequence[CaseEvent], seq: int) -> str:
    """The unit that held the case just after event ``seq`` (forwards replayed in order)."""
    unit = case.intake_station
    for event in events:
        if event.seq > seq:
            break
        if event.action == Action.FORWARD.value:
            unit = str((event.detail or {}).get("to_unit") or unit)
    return unit


def _common(
    case: Case,
    ref: Reference,
    today: date,
    *,
    events: Sequence[CaseEvent],
    agency_name: str,
    addresses: Mapping[str, str | None],
    public_url: str,
) -> dict[str, Any]:
    service = ref.services.get(case.service_code)
    state = State(case.state)
    timing = case_timing(case, ref, today)
    first = events[0] if events else None
    limit = (
        rules.time_limit(service.time_limit_days, service.channel_limits, case.channel)
        if service
        else None
    )
    return {
        "agency_name": agency_name,
        "case_no": case.case_no,
        "service_code": case.service_code,
        "service_name": service.name_zh if service else case.service_code,
        "service_name_en": service.name_en if service else case.service_code,
        "time_limit_days": limit,
        "station_code": case.intake_station,
        "station_name": ref.unit_names.get(case.intake_station, case.intake_station),
        "station_address": addresses.get(case.intake_station) or "",
        "channel": case.channel,
        "channel_label": CHANNEL_LABELS_ZH.get(case.channel, case.channel),
        "channel_label_en": CHANNEL_LABELS_EN.get(case.channel, case.channel),
        # Printed papers leave the office: never the full ID number or the full name.
        "applicant_name": mask_name(case.applicant_name),
        "applicant_id": mask_id(case.applicant_id_number),
        "intake_date": case.intake_date.isoformat(),
        "intake_date_zh": date_zh(case.intake_date),
        "due_date": case.due_date.isoformat(),
        "due_date_zh": date_zh(case.due_date),
        "due_estimated": timing.estimated,
        "clock": timing.clock.value,
        "closed_date": case.closed_date.isoformat() if case.closed_date else None,
        "closed_date_zh": date_zh(case.closed_date) if case.closed_date else None,
        "state": state.value,
        "state_label": lifecycle.STATE_LABELS_ZH[state],
        "state_label_en": lifecycle.STATE_LABELS_EN[state],
        "clerk": first.actor_name if first else "",
        "public_url": public_url,
        "hotline": HOTLINE,
        "printed_on": today.isoformat(),
        "printed_on_zh": date_zh(today),
    }


def receipt_data(
    case: Case,
    ref: Reference,
    today: date,
    *,
    events: Sequence[CaseEvent],
    agency_name: str,
    addresses: Mapping[str, str | None],
    public_url: str,
    next_visit: Mapping[str, Any] | None = None,
    tz: tzinfo | None = None,
) -> dict[str, Any]:
    """Everything the intake receipt shows, with the applicant's name and ID masked.

    A completed case (on the spot, or later) shows when and by whom instead of a promised
    date; ``tz`` is the agency's time zone for that moment (UTC when not given).

    ``next_visit``: for a case waiting for materials at a mobile station, the station's next
    visit to the person's village (the next chance to hand them in). When not given and the
    case is still attached to its session, it is looked up there.
    """
    data = _common(
        case,
        ref,
        today,
        events=events,
        agency_name=agency_name,
        addresses=addresses,
        public_url=public_url,
    )
    state = State(case.state)
    data.update(
        kind="receipt",
        materials_received=_materials(case.materials_received or [], ref),
        materials_missing=_materials(case.materials_missing or [], ref),
        next_step=RECEIPT_NEXT_STEP_ZH.get(state, NEXT_STEP_ZH[state]),
        next_step_en=NEXT_STEP_EN[state],
        next_visit=dict(next_visit) if next_visit else _next_visit(case, state, ref, today),
        **_completion(events, state, tz),
    )
    return data


def _completion(events: Sequence[CaseEvent], state: State, tz: tzinfo | None) -> dict[str, Any]:
    """When and by whom a completed case was completed, from its ``complete`` event."""
    done = None
    if state == State.COMPLETED:
        for event in events:
            if event.action == Action.COMPLETE.value:
                done = event
    if done is None:
        return {
            "completed_at": None,
            "completed_at_zh": None,
            "completed_by": None,
            "completed_on_the_spot": False,
        }
    at = done.at.astimezone(tz) if tz is not None else done.at
    return {
        "completed_at": at.strftime("%Y-%m-%d %H:%M"),
        "completed_at_zh": f"{date_zh(at.date())} {at:%H:%M}",
        "completed_by": done.actor_name,
        "completed_on_the_spot": bool((done.detail or {}).get("at_intake")),
    }


def _next_visit(case: Case, state: State, ref: Reference, today: date) -> dict[str, Any] | None:
    """The mobile station's next visit to the village, for a case waiting for materials."""
    if state != State.MATERIALS_PENDING or not case.materials_missing:
        return None
    session = object_session(case)
    if session is None:
        return None
    from yibao.visits.service import next_visit_for_case

    return next_visit_for_case(session, ref=ref, today=today, case=case)


def next_visit_text_zh(visit: Mapping[str, Any]) -> str:
    """The receipt's line on the next chance to hand in materials, in Chinese."""
    where = str(visit["village"])
    if not visit.get("same_village"):
        where += f"（{visit['town_name']}）"
    return (
        f"{visit['station_name']}将于{date_zh(date.fromisoformat(str(visit['date'])))}"
        f"（{visit['weekday']}）{visit['start']}–{visit['end']}到{where}，可届时当面补交材料"
    )


def notice_request(events: Sequence[CaseEvent]) -> CaseEvent | None:
    """The latest ``request_materials`` event of a timeline (ordered by seq), if any."""
    found = None
    for event in events:
        if event.action == Action.REQUEST_MATERIALS.value:
            found = event
    return found


def notice_data(
    case: Case,
    ref: Reference,
    today: date,
    *,
    events: Sequence[CaseEvent],
    agency_name: str,
    addresses: Mapping[str, str | None],
    public_url: str,
    tz: tzinfo,
) -> dict[str, Any] | None:
    """Everything the one-time notice shows; ``None`` when materials were never requested."""
    request = notice_request(events)
    if request is None:
        return None
    detail = request.detail or {}
    if case.state == State.MATERIALS_PENDING and case.materials_missing:
        missing = list(case.materials_missing)
    else:
        # Supplemented (or closed) since: reprint the list the person was given then.
        missing = [str(m) for m in detail.get("missing_materials") or []]
    if not missing:
        return None
    data = _common(
        case,
        ref,
        today,
        events=events,
        agency_name=agency_name,
        addresses=addresses,
        public_url=public_url,
    )
    unit = _unit_at(case, events, request.seq)
    issued = request.at.astimezone(tz).date()
    supplemented = next(
        (
            e.at.astimezone(tz).date()
            for e in events
            if e.seq > request.seq and e.action == Action.SUPPLEMENT.value
        ),
        None,
    )
    remaining = detail.get("remaining_days")
    data.update(
        kind="notice",
        missing=_materials(missing, ref),
        reason=request.reason or "",
        issuer=request.actor_name,
        issued_on=issued.isoformat(),
        issued_on_zh=date_zh(issued),
        handling_unit=unit,
        handling_name=ref.unit_names.get(unit, unit),
        handling_address=addresses.get(unit) or "",
        remaining_days=int(remaining) if isinstance(remaining, int) else None,
        supplemented_on=supplemented.isoformat() if supplemented else None,
        supplemented_on_zh=date_zh(supplemented) if supplemented else None,
    )
    return data


def notice_time_text_zh(data: Mapping[str, Any]) -> str:
    """The paragraph on time limits of a notice, in Chinese (补正期间不计时)."""
    limit = data.get("time_limit_days")
    remaining = data.get("remaining_days")
    head = (
        "本事项为即时办结事项。"
        if limit == 0
        else f"本事项承诺办理时限为{limit}个工作日。"
        if limit
        else ""
    )
    pause = "补正期间不计时：自本告知书送达之日起至材料补齐之日止的时间，不计入办理时限；"
    if remaining is not None and remaining > 0:
        tail = f"材料补齐后，剩余的{remaining}个工作日自补齐之日起重新计算。"
    elif remaining == 0:
        tail = "材料补齐后，当日办结。"
    else:
        tail = "材料补齐后，我们将尽快办结。"
    return head + pause + tail


# ---------------------------------------------------------------- QR code

_SVG_SIZE = re.compile(r'^<svg width="[^"]*" height="[^"]*"')


def qr_svg(url: str, *, size_mm: int = 30) -> str:
    """The QR code of ``url`` as an inline ``<svg>`` element (no raster image library needed)."""
    image = qrcode.make(
        url,
        image_factory=qrcode.image.svg.SvgPathImage,
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=2,
    )
    text = image.to_string(encoding="unicode")
    # A fixed element id would clash with a second code on the same page.
    text = text[text.index("<svg") :].replace(' id="qr-path"', "")
    label = escape(url, {'"': "&quot;"})
    head = (
        f'<svg class="qr" width="{size_mm}mm" height="{size_mm}mm" role="img" aria-label="{label}"'
    )
    # A function, not a template: a backslash in the URL must not be read as a group reference.
    text = _SVG_SIZE.sub(lambda _m: head, text, count=1)
    # A title makes the target readable (and testable) without decoding the picture.
    close = text.index(">") + 1
    return text[:close] + f"<title>{escape(url)}</title>" + text[close:]


def _qr_drawing(url: str, size: float) -> Drawing:
    widget = QrCodeWidget(url, barLevel="M", barBorder=2)
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    return drawing


# ---------------------------------------------------------------- PDF


# reportlab hangs closing punctuation in the margin rather than start a line with it, but its
# list lacks full-width marks Chinese text uses, so a line could open with "，" or "”". Both
# of its CJK wrappers read the list as a module global; extending it is idempotent and only
# changes how CJK lines wrap.
_HANGING = "，。：；？！”’）》」』】〕…"
for _module in (rl_textsplit, rl_paragraph):
    _module.ALL_CANNOT_START += "".join(c for c in _HANGING if c not in _module.ALL_CANNOT_START)


def _font() -> str:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def _styles(base_size: float) -> dict[str, ParagraphStyle]:
    font = _font()
    body = ParagraphStyle(
        "body", fontName=font, fontSize=base_size, leading=base_size * 1.6, wordWrap="CJK"
    )
    return {
        "agency": ParagraphStyle(
            "agency",
            parent=body,
            fontSize=base_size * 1.35,
            leading=base_size * 1.9,
            alignment=TA_CENTER,
        ),
        "title": ParagraphStyle(
            "title",
            parent=body,
            fontSize=base_size * 2,
            leading=base_size * 2.6,
            alignment=TA_CENTER,
            spaceAfter=base_size * 0.3,
        ),
        "meta": ParagraphStyle("meta", parent=body, fontSize=base_size * 0.9, alignment=TA_RIGHT),
        "body": body,
        "para": ParagraphStyle("para", parent=body, firstLineIndent=base_size * 2),
        "cell": ParagraphStyle("cell", parent=body, leading=base_size * 1.4),
        "label": ParagraphStyle(
            "label", parent=body, leading=base_size * 1.4, textColor=colors.HexColor("#333333")
        ),
        "small": ParagraphStyle(
            "small", parent=body, fontSize=base_size * 0.8, leading=base_size * 1.2
        ),
        "right": ParagraphStyle("right", parent=body, alignment=TA_RIGHT),
        "center": ParagraphStyle(
            "center", parent=body, leading=base_size * 1.4, alignment=TA_CENTER
        ),
    }


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def _footer(data: Mapping[str, Any], title: str) -> Callable[[Canvas, Any], None]:
    def draw(canvas: Canvas, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(_font(), 8)
        canvas.setFillColor(colors.HexColor("#444444"))
        width, _height = doc.pagesize
        y = doc.bottomMargin - 6 * mm
        canvas.setStrokeColor(colors.HexColor("#999999"))
        canvas.setLineWidth(0.4)
        canvas.line(doc.leftMargin, y + 3.5 * mm, width - doc.rightMargin, y + 3.5 * mm)
        canvas.drawString(doc.leftMargin, y, f"{title}　办件编号：{data['case_no']}")
        canvas.drawRightString(
            width - doc.rightMargin, y, f"打印日期：{data['printed_on_zh']}　第{doc.page}页"
        )
        canvas.restoreState()

    return draw


def _build(
    data: Mapping[str, Any],
    story: list[Flowable],
    *,
    pagesize: tuple[float, float],
    margin: float,
    title: str,
) -> bytes:
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=pagesize,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin + 4 * mm,
        title=f"{title} {data['case_no']}",
        author=str(data["agency_name"]),
        subject=f"{data['service_name']} · {data['case_no']}",
        creator="yibao",
    )
    footer = _footer(data, title)
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


def _grid(*, header: bool = False) -> TableStyle:
    commands: list[tuple[Any, ...]] = [
        ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3.5),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")))
    else:
        commands.append(("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f3f3f3")))
    return TableStyle(commands)


def _due_text(data: Mapping[str, Any]) -> str:
    if data.get("closed_date_zh"):
        return f"已于{data['closed_date_zh']}办结"
    text = str(data["due_date_zh"])
    if data.get("due_estimated"):
        text += "（预估：该年节假日安排尚未公布）"
    if data.get("clock") == rules.Clock.PAUSED.value:
        text += "（补正期间暂停计时，材料补齐后重新计算）"
    return text


def _names(items: Sequence[Mapping[str, str]]) -> str:
    return "、".join(m["name"] for m in items) or "无"


def _qr_block(data: Mapping[str, Any], s: dict[str, ParagraphStyle], size: float) -> Table:
    text = Paragraph(
        "扫描二维码或访问下列网址，输入身份证号后四位，即可查询办理进度：<br/>"
        f"{escape(str(data['public_url']))}",
        s["cell"],
    )
    table = Table([[_qr_drawing(str(data["public_url"]), size), text]], colWidths=[size + 4, None])
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (0, 0), 0),
                ("LEFTPADDING", (1, 0), (1, 0), 6),
            ]
        )
    )
    return table


def _sign_row(left: Flowable, right: Flowable, width: float) -> Table:
    row = Table([[left, right]], colWidths=[width / 2, width / 2])
    row.setStyle(
        TableStyle(
            [
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return row


def receipt_pdf(data: Mapping[str, Any]) -> bytes:
    """The intake receipt as an A5 PDF in Chinese."""
    s = _styles(9)
    margin = 10 * mm
    width = A5[0] - 2 * margin - FRAME_PADDING
    station = str(data["station_name"])
    if data.get("station_address"):
        station += f"（{data['station_address']}）"
    rows: list[tuple[str, str]] = [
        ("办理事项", str(data["service_name"])),
        ("申请人", str(data["applicant_name"])),
        ("身份证号", str(data["applicant_id"])),
        ("受理地点", station),
        ("受理方式", str(data["channel_label"])),
        ("受理日期", str(data["intake_date_zh"])),
    ]
    if data.get("completed_at_zh"):
        rows += [("办结时间", str(data["completed_at_zh"])), ("办结人", str(data["completed_by"]))]
    else:
        rows.append(("承诺办结日期", _due_text(data)))
    rows.append(("已收材料", _names(data["materials_received"])))
    if data["materials_missing"]:
        rows.append(("尚缺材料", _names(data["materials_missing"])))
        if data.get("next_visit"):
            rows.append(("补交机会", next_visit_text_zh(data["next_visit"])))
    rows += [("受理人", str(data["clerk"])), ("当前状态", str(data["state_label"]))]
    label_w = 24 * mm
    table = Table(
        [[_p(k, s["label"]), _p(v, s["cell"])] for k, v in rows],
        colWidths=[label_w, width - label_w],
    )
    table.setStyle(_grid())
    story: list[Flowable] = [
        _p(str(data["agency_name"]), s["agency"]),
        _p("受 理 回 执", s["title"]),
        _p(f"办件编号：{data['case_no']}", s["meta"]),
        Spacer(0, 1.5 * mm),
        table,
        Spacer(0, 2 * mm),
        _p(f"下一步：{data['next_step']}", s["body"]),
        Spacer(0, 1.5 * mm),
        _qr_block(data, s, 22 * mm),
        Spacer(0, 2 * mm),
        KeepTogether(
            [
                _sign_row(
                    _p("受理人（签字）：____________", s["body"]),
                    _p("受理单位（盖章）", s["right"]),
                    width,
                ),
                _p(f"日期：{data['intake_date_zh']}", s["right"]),
                Spacer(0, 1 * mm),
                _p(
                    "请妥善保管本回执。凭办件编号和身份证号后四位可随时查询办理进度；"
                    f"如有疑问，请向受理窗口咨询或拨打医保服务热线{HOTLINE}。",
                    s["small"],
                ),
            ]
        ),
    ]
    return _build(data, story, pagesize=A5, margin=margin, title="受理回执")


def notice_pdf(data: Mapping[str, Any]) -> bytes:
    """The one-time notice of missing materials (一次性告知书) as an A4 PDF in Chinese."""
    s = _styles(11)
    margin = 20 * mm
    width = A4[0] - 2 * margin - FRAME_PADDING
    missing = list(data["missing"])
    address = f"地址：{data['handling_address']}。" if data.get("handling_address") else ""
    no_w = 16 * mm
    table = Table(
        [[_p("序号", s["center"]), _p("需补正的材料", s["cell"])]]
        + [[_p(str(i), s["center"]), _p(m["name"], s["cell"])] for i, m in enumerate(missing, 1)],
        colWidths=[no_w, width - no_w],
        repeatRows=1,
    )
    table.setStyle(_grid(header=True))
    story: list[Flowable] = [
        _p(str(data["agency_name"]), s["agency"]),
        _p("一次性告知书", s["title"]),
        _p(f"（补正材料通知）　办件编号：{data['case_no']}", s["meta"]),
        Spacer(0, 4 * mm),
        _p(f"{data['applicant_name']}（身份证号：{data['applicant_id']}）：", s["body"]),
        _p(
            f"您于{data['intake_date_zh']}在{data['station_name']}申请办理的"
            f"“{data['service_name']}”事项（办件编号：{data['case_no']}），经审查，"
            "申请材料尚不齐全。按照一次性告知制度，现将需要补正的全部材料一次性告知如下：",
            s["para"],
        ),
        Spacer(0, 2 * mm),
        table,
        Spacer(0, 1 * mm),
        _p(
            f"以上共{len(missing)}项，为本事项需要补正的全部材料，不再另行要求其他材料。",
            s["body"],
        ),
    ]
    if data.get("reason"):
        story.append(_p(f"补正说明：{data['reason']}", s["body"]))
    story += [
        Spacer(0, 2 * mm),
        _p(
            f"一、补正方式：请持本告知书及上述全部材料，到{data['handling_name']}窗口提交，"
            f"{address}材料补齐后即继续办理，无需重新申请。",
            s["para"],
        ),
        _p("二、办理时限：" + notice_time_text_zh(data), s["para"]),
        _p(
            "三、进度查询：扫描下方二维码或访问所列网址，输入身份证号后四位，即可查询办理进度。",
            s["para"],
        ),
        _p(
            f"四、咨询：如对本告知有疑问，可向受理窗口咨询，或拨打医保服务热线{HOTLINE}。",
            s["para"],
        ),
        _p("特此告知。", s["para"]),
        Spacer(0, 3 * mm),
    ]
    if data.get("supplemented_on_zh"):
        story.append(
            _p(f"注：申请人已于{data['supplemented_on_zh']}补齐上述材料（本件为补打）。", s["body"])
        )
    signature = Table(
        [
            [_p(f"经办人：{data['issuer']}", s["body"]), _p("经办机构（盖章）", s["body"])],
            [_p("签字：______________", s["body"]), _p(str(data["agency_name"]), s["body"])],
            ["", _p(str(data["handling_name"]), s["body"])],
            ["", _p(str(data["issued_on_zh"]), s["body"])],
        ],
        colWidths=[width * 0.45, width * 0.55],
    )
    signature.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
            ]
        )
    )
    receipt_line = Table(
        [[_p("申请人签收：________________　　日期：______年____月____日", s["body"])]],
        colWidths=[width],
    )
    receipt_line.setStyle(
        TableStyle(
            [
                ("LINEABOVE", (0, 0), (-1, 0), 0.5, colors.black, None, (2, 2)),
                ("TOPPADDING", (0, 0), (-1, -1), 8),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    story += [
        KeepTogether(
            [
                _qr_block(data, s, 26 * mm),
                Spacer(0, 4 * mm),
                signature,
                Spacer(0, 6 * mm),
                receipt_line,
            ]
        ),
        Spacer(0, 2 * mm),
        _p("本告知书一式两份，经办机构与申请人各执一份。", s["small"]),
    ]
    return _build(data, story, pagesize=A4, margin=margin, title="一次性告知书")

"""The printed documents of a case as Chinese PDFs: the receipt (A5) and the notice (A4).

They draw the data ``cases.printables`` builds; reportlab's built-in CID font is used, so no
font file has to ship with the package.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape

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

from yibao.cases import rules
from yibao.cases.printables import HOTLINE, next_visit_text_zh, notice_time_text_zh

FONT = "STSong-Light"
FRAME_PADDING = 12  # points: platypus frames keep 6 pt clear on each side


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

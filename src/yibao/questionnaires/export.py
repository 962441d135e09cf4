"""A version's results as an Excel workbook: the summary, every response, the text answers.
Always in Chinese (a report for the bureau); answers shown with the version's own wording."""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font

from yibao.questionnaires import rules
from yibao.questionnaires.models import QuestionnaireResponse
from yibao.questionnaires.results import Results
from yibao.questionnaires.rules import QType

TZ = ZoneInfo("Asia/Shanghai")
CHANNELS_ZH = {"window": "窗口", "mobile": "流动服务", "qr": "扫码"}
TYPES_ZH = {"single": "单选", "multiple": "多选", "scale": "评分", "text": "文字"}
BOLD = Font(bold=True)


def _local(moment: datetime) -> str:
    return moment.astimezone(TZ).strftime("%Y-%m-%d %H:%M")


def workbook(
    found: Results,
    rows: Iterable[QuestionnaireResponse],
    *,
    station_names: Mapping[str, str],
    town_names: Mapping[str, str],
) -> bytes:
    """The .xlsx bytes: 汇总 (per question and option), 答卷 (one row per response), 文字意见."""
    wb = Workbook()
    summary = wb.active
    assert summary is not None
    summary.title = "汇总"
    f = found.filters
    summary.append([f"{found.definition.title}（第{found.version.version}版）"])
    summary["A1"].font = Font(bold=True, size=14)
    summary.append(
        [
            "筛选",
            f"服务站：{station_names.get(f.station, f.station) if f.station else '全部'}；"
            f"镇街：{town_names.get(f.town, f.town) if f.town else '全部'}；"
            f"日期：{f.date_from.isoformat() if f.date_from else '不限'} 至 "
            f"{f.date_to.isoformat() if f.date_to else '不限'}",
        ]
    )
    summary.append(["答卷数", found.responses])
    summary.append([])
    summary.append(["题号", "题目", "题型", "选项", "人次", "占比", "平均分", "作答人数"])
    for cell in summary[summary.max_row]:
        cell.font = BOLD
    for r in found.questions:
        q = r.question
        if q.type is QType.TEXT:
            summary.append([q.id, q.text, TYPES_ZH[q.type.value], "", None, None, None, r.answered])
            continue
        for i, o in enumerate(r.options):
            summary.append(
                [
                    q.id if i == 0 else "",
                    q.text if i == 0 else "",
                    TYPES_ZH[q.type.value] if i == 0 else "",
                    f"{o.label}分" if q.type is QType.SCALE else o.label,
                    o.count,
                    round(o.share, 4) if o.share is not None else None,
                    round(r.mean, 2) if i == 0 and r.mean is not None else None,
                    r.answered if i == 0 else None,
                ]
            )
            summary.cell(summary.max_row, 6).number_format = "0.0%"
    for col, width in zip("ABCDEFGH", (14, 44, 8, 30, 8, 8, 8, 10), strict=True):
        summary.column_dimensions[col].width = width

    sheet = wb.create_sheet("答卷")
    questions = found.definition.questions
    sheet.append(
        ["编号", "填写时间", "服务站", "镇街", "渠道", "关联办件", *(q.text for q in questions)]
    )
    for cell in sheet[1]:
        cell.font = BOLD
    texts = wb.create_sheet("文字意见")
    texts.append(["题目", "意见", "填写时间", "服务站"])
    for cell in texts[1]:
        cell.font = BOLD
    for resp in rows:
        station = station_names.get(resp.station_code or "", resp.station_code or "")
        sheet.append(
            [
                str(resp.id),
                _local(resp.answered_at),
                station,
                town_names.get(resp.town_code or "", resp.town_code or ""),
                CHANNELS_ZH.get(resp.channel, resp.channel),
                resp.case_no or "",
                *(_cell(q, resp.answers.get(q.id)) for q in questions),
            ]
        )
        for q in questions:
            value = resp.answers.get(q.id)
            if q.type is QType.TEXT and value:
                texts.append([q.text, _safe(str(value)), _local(resp.answered_at), station])
    sheet.column_dimensions["A"].width = 38
    sheet.column_dimensions["B"].width = 17
    sheet.column_dimensions["C"].width = 24
    texts.column_dimensions["A"].width = 30
    texts.column_dimensions["B"].width = 60
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _safe(text: str) -> str:
    """Text as text: a spreadsheet must not run what a person typed as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _cell(q: rules.Question, value: object) -> str | int | None:
    if value is None:
        return None
    if q.type is QType.SCALE and isinstance(value, int):
        return value
    return _safe(rules.answer_text(q, value))

"""Questionnaire templates and responses: the definition format, its checks, the version
lifecycle, and the check of one response against the version it answers. Pure.

A template's definition (what a manager writes, as YAML or JSON)::

    title: 医保政策知晓度调查
    description: 用于了解参保群众对医保政策的知晓情况
    questions:
      - id: q1                      # [a-z][a-z0-9_]*, unique in the version
        type: single                # single | multiple | scale | text
        text: 您是否知道今年居民医保个人缴费标准？
        required: true              # default true (text questions: false)
        options: [知道, 大概知道, 不知道]   # or [{value: yes, label: 知道}, ...]
      - {id: q2, type: scale, text: 您对医保政策的了解程度, low: 很不了解, high: 非常了解}
      - {id: q3, type: text, text: 您还希望了解哪些政策？, max_length: 300}

Answers are keyed by question id: a single choice and a scale give one value, a multiple
choice a list of values, a text question a string. A version once published never changes:
answers always refer to the version that was asked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from yibao.errors import ActionNotAllowed, FieldError, Forbidden, ValidationFailed

MAX_QUESTIONS = 40
MAX_OPTIONS = 12
MAX_TEXT = 300  # a question's wording
MAX_LABEL = 100
MAX_TITLE = 100
MAX_DESCRIPTION = 1000
DEFAULT_TEXT_ANSWER = 500
MAX_TEXT_ANSWER = 2000
SCALE = (1, 2, 3, 4, 5)
CODE_RE = re.compile(r"^[a-z][a-z0-9-]{1,39}$")
QID_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
VALUE_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
RESERVED_CODES = frozenset({"new", "load-standard"})  # page paths under /questionnaires/


class Kind(StrEnum):
    """The three kinds of questionnaire stations run (DESIGN.md section 1)."""

    AWARENESS = "awareness"  # 政策知晓度
    PROCEDURE = "procedure"  # 业务办理
    EVALUATION = "evaluation"  # 政策评价


KIND_LABELS_ZH = {
    Kind.AWARENESS: "政策知晓度",
    Kind.PROCEDURE: "业务办理",
    Kind.EVALUATION: "政策评价",
}


class QType(StrEnum):
    """Question types."""

    SINGLE = "single"
    MULTIPLE = "multiple"
    SCALE = "scale"
    TEXT = "text"


class Channel(StrEnum):
    """Where a response was taken."""

    WINDOW = "window"  # a clerk fills it in with the person at a station
    MOBILE = "mobile"  # on a mobile station's visit (also offline, on the field laptop)
    QR = "qr"  # the person on their own phone, from a printed QR code


# ---------------------------------------------------------------- the definition


@dataclass(frozen=True)
class Option:
    """One choice of a single or multiple choice question."""

    value: str
    label: str


@dataclass(frozen=True)
class Question:
    """One question of a version."""

    id: str
    type: QType
    text: str
    required: bool
    options: tuple[Option, ...] = ()
    low: str = ""  # scale: what 1 means
    high: str = ""  # scale: what 5 means
    max_length: int = DEFAULT_TEXT_ANSWER  # text answers
    max_choices: int | None = None  # multiple choice

    def label_of(self, value: str) -> str:
        """The label of an option value (the value itself when unknown)."""
        return next((o.label for o in self.options if o.value == value), value)

    def as_dict(self) -> dict[str, Any]:
        """The question as stored (and as the API shows it)."""
        out: dict[str, Any] = {
            "id": self.id,
            "type": self.type.value,
            "text": self.text,
            "required": self.required,
        }
        if self.type in (QType.SINGLE, QType.MULTIPLE):
            out["options"] = [{"value": o.value, "label": o.label} for o in self.options]
        if self.type is QType.MULTIPLE and self.max_choices is not None:
            out["max_choices"] = self.max_choices
        if self.type is QType.SCALE:
            out["low"], out["high"] = self.low, self.high
        if self.type is QType.TEXT:
            out["max_length"] = self.max_length
        return out


@dataclass(frozen=True)
class Definition:
    """A version's content: title, description and questions."""

    title: str
    description: str
    questions: tuple[Question, ...]

    def question(self, qid: str) -> Question | None:
        """The question with this id, or None."""
        return next((q for q in self.questions if q.id == qid), None)

    def as_dict(self) -> dict[str, Any]:
        """The definition as stored."""
        return {
            "title": self.title,
            "description": self.description,
            "questions": [q.as_dict() for q in self.questions],
        }


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _options(raw: Any, where: str, errors: list[FieldError]) -> tuple[Option, ...]:
    if not isinstance(raw, list) or not 2 <= len(raw) <= MAX_OPTIONS:
        errors.append(
            FieldError(
                f"{where}.options",
                f"give 2 to {MAX_OPTIONS} options",
                f"选择题须有2至{MAX_OPTIONS}个选项",
            )
        )
        return ()
    out: list[Option] = []
    for i, item in enumerate(raw):
        at = f"{where}.options[{i}]"
        if isinstance(item, dict):
            value, label = _text(item.get("value")), _text(item.get("label"))
            unknown = set(item) - {"value", "label"}
            if unknown:
                errors.append(
                    FieldError(at, f"unknown keys: {sorted(map(str, unknown))}", "选项含未知字段")
                )
        else:
            value, label = str(i + 1), _text(item)
        if not label or len(label) > MAX_LABEL:
            errors.append(
                FieldError(
                    at,
                    f"an option needs a label of 1 to {MAX_LABEL} characters",
                    "选项文字为空或过长",
                )
            )
            continue
        if not value or not VALUE_RE.match(value):
            errors.append(
                FieldError(
                    at,
                    "an option value is 1-32 letters, digits, '-' or '_'",
                    "选项代码只能由1至32个字母、数字、-或_组成",
                )
            )
            continue
        out.append(Option(value, label))
    if len({o.value for o in out}) != len(out):
        errors.append(FieldError(f"{where}.options", "option values repeat", "选项代码重复"))
    if len({o.label for o in out}) != len(out):
        errors.append(FieldError(f"{where}.options", "option labels repeat", "选项文字重复"))
    return tuple(out)


_KEYS = {
    "id",
    "type",
    "text",
    "required",
    "options",
    "low",
    "high",
    "max_length",
    "max_choices",
}


def _question(raw: Any, i: int, errors: list[FieldError]) -> Question | None:
    where = f"questions[{i}]"
    if not isinstance(raw, dict):
        errors.append(FieldError(where, "a question is a mapping", "每道题须为键值结构"))
        return None
    before = len(errors)
    unknown = set(raw) - _KEYS
    if unknown:
        errors.append(
            FieldError(where, f"unknown keys: {sorted(map(str, unknown))}", "题目含未知字段")
        )
    qid = raw.get("id")
    if not isinstance(qid, str) or not QID_RE.match(qid):
        errors.append(
            FieldError(
                f"{where}.id",
                "an id is a lower-case letter then letters, digits or '_' (at most 32)",
                "题号须以小写字母开头，只含小写字母、数字或下划线",
            )
        )
    try:
        qtype = QType(str(raw.get("type")))
    except ValueError:
        errors.append(
            FieldError(
                f"{where}.type",
                "type is one of single, multiple, scale, text",
                "题型须为 single、multiple、scale 或 text",
            )
        )
        return None
    text = _text(raw.get("text"))
    if not text or len(text) > MAX_TEXT:
        errors.append(
            FieldError(
                f"{where}.text",
                f"the question needs a wording of 1 to {MAX_TEXT} characters",
                "题目文字为空或过长",
            )
        )
    required = raw.get("required", qtype is not QType.TEXT)
    if not isinstance(required, bool):
        errors.append(FieldError(f"{where}.required", "true or false", "须为 true 或 false"))
        required = True
    options: tuple[Option, ...] = ()
    if qtype in (QType.SINGLE, QType.MULTIPLE):
        options = _options(raw.get("options"), where, errors)
    elif "options" in raw:
        errors.append(
            FieldError(f"{where}.options", "only choice questions have options", "只有选择题有选项")
        )
    max_choices = raw.get("max_choices")
    if max_choices is not None and (
        qtype is not QType.MULTIPLE
        or not isinstance(max_choices, int)
        or isinstance(max_choices, bool)
        or not 1 <= max_choices <= max(len(options), 1)
    ):
        errors.append(
            FieldError(
                f"{where}.max_choices",
                "a multiple choice's limit, between 1 and its number of options",
                "最多可选数须在1与选项数之间，且仅用于多选题",
            )
        )
        max_choices = None
    max_length = raw.get("max_length", DEFAULT_TEXT_ANSWER)
    if (
        not isinstance(max_length, int)
        or isinstance(max_length, bool)
        or not 1 <= max_length <= MAX_TEXT_ANSWER
    ):
        errors.append(
            FieldError(
                f"{where}.max_length",
                f"between 1 and {MAX_TEXT_ANSWER}",
                f"字数上限须在1至{MAX_TEXT_ANSWER}之间",
            )
        )
        max_length = DEFAULT_TEXT_ANSWER
    low, high = _text(raw.get("low")) or "", _text(raw.get("high")) or ""
    if len(low) > MAX_LABEL or len(high) > MAX_LABEL:
        errors.append(FieldError(f"{where}.low", "too long", "量表说明过长"))
    if len(errors) > before or not isinstance(qid, str) or not text:
        return None
    return Question(
        id=qid,
        type=qtype,
        text=text,
        required=required,
        options=options,
        low=low if qtype is QType.SCALE else "",
        high=high if qtype is QType.SCALE else "",
        max_length=max_length if qtype is QType.TEXT else DEFAULT_TEXT_ANSWER,
        max_choices=max_choices if qtype is QType.MULTIPLE else None,
    )


def parse_definition(raw: Any) -> Definition:
    """Check a definition; every problem is named by its path (``questions[2].options``)."""
    if not isinstance(raw, dict):
        raise ValidationFailed.single(
            "definition",
            "a definition is a mapping with title and questions",
            "问卷须包含 title 与 questions",
        )
    errors: list[FieldError] = []
    unknown = set(raw) - {"title", "description", "questions"}
    if unknown:
        errors.append(
            FieldError("definition", f"unknown keys: {sorted(map(str, unknown))}", "问卷含未知字段")
        )
    title = _text(raw.get("title"))
    if not title or len(title) > MAX_TITLE:
        errors.append(
            FieldError("title", f"a title of 1 to {MAX_TITLE} characters", "标题为空或过长")
        )
    description = _text(raw.get("description")) or ""
    if len(description) > MAX_DESCRIPTION:
        errors.append(FieldError("description", "too long", "说明过长"))
    items = raw.get("questions")
    questions: list[Question] = []
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_QUESTIONS:
        errors.append(
            FieldError(
                "questions", f"give 1 to {MAX_QUESTIONS} questions", f"须有1至{MAX_QUESTIONS}道题"
            )
        )
    else:
        seen: set[str] = set()
        for i, item in enumerate(items):
            q = _question(item, i, errors)
            if q is None:
                continue
            questions.append(q)
            if q.id in seen:
                errors.append(
                    FieldError(f"questions[{i}].id", f"the id {q.id} repeats", f"题号 {q.id} 重复")
                )
            seen.add(q.id)
    if errors:
        raise ValidationFailed(errors)
    assert title is not None
    return Definition(title=title, description=description, questions=tuple(questions))


# ---------------------------------------------------------------- a response


def _where(q: Question, n: int) -> tuple[str, str, str]:
    short = q.text if len(q.text) <= 40 else q.text[:39] + "…"
    return f"answers.{q.id}", f"question {n} ({q.id}, «{short}»)", f"第{n}题「{short}」"


def _blank(value: Any) -> bool:
    return (
        value is None
        or value == ""
        or value == []
        or (isinstance(value, str) and not value.strip())
    )


def validate_answers(defn: Definition, answers: Any) -> dict[str, Any]:
    """Check a response against the version it answers; returns the answers normalised
    (single and scale as one value, multiple as a list in option order, text stripped;
    questions left blank are left out). Each error names its question."""
    if not isinstance(answers, Mapping):
        raise ValidationFailed.single(
            "answers", "answers are a mapping of question ids", "答案格式不正确"
        )
    errors: list[FieldError] = []
    known = {q.id for q in defn.questions}
    for key in answers:
        if key not in known:
            name = str(key)[:40]
            errors.append(
                FieldError(
                    f"answers.{name}", f"no question {name} in this version", "本版问卷没有此题"
                )
            )
    out: dict[str, Any] = {}
    for n, q in enumerate(defn.questions, start=1):
        field, en, zh = _where(q, n)
        value = answers.get(q.id)
        if _blank(value):
            if q.required:
                errors.append(FieldError(field, f"{en}: an answer is required", f"{zh}为必答题"))
            continue
        if q.type is QType.SINGLE:
            one_of = {o.value for o in q.options}
            if (
                not isinstance(value, str | int)
                or isinstance(value, bool)
                or str(value) not in one_of
            ):
                errors.append(
                    FieldError(
                        field, f"{en}: choose one of {sorted(one_of)}", f"{zh}：请选择一个选项"
                    )
                )
                continue
            out[q.id] = str(value)
        elif q.type is QType.MULTIPLE:
            chosen = value if isinstance(value, list) else [value]
            values = [o.value for o in q.options]
            if not all(isinstance(v, str | int) and not isinstance(v, bool) for v in chosen) or any(
                str(v) not in values for v in chosen
            ):
                errors.append(
                    FieldError(field, f"{en}: choose among {values}", f"{zh}：所选项不在选项之中")
                )
                continue
            picked = {str(v) for v in chosen}
            if len(picked) != len(chosen):
                errors.append(
                    FieldError(field, f"{en}: an option is chosen twice", f"{zh}：选项重复")
                )
                continue
            if q.max_choices is not None and len(picked) > q.max_choices:
                errors.append(
                    FieldError(
                        field,
                        f"{en}: at most {q.max_choices} choices",
                        f"{zh}：最多选{q.max_choices}项",
                    )
                )
                continue
            out[q.id] = [v for v in values if v in picked]
        elif q.type is QType.SCALE:
            number = _scale(value)
            if number is None:
                errors.append(
                    FieldError(
                        field, f"{en}: a whole number from 1 to 5", f"{zh}：请在1至5分之间评分"
                    )
                )
                continue
            out[q.id] = number
        else:
            if not isinstance(value, str):
                errors.append(FieldError(field, f"{en}: text is expected", f"{zh}：须为文字"))
                continue
            text = value.strip()
            if len(text) > q.max_length:
                errors.append(
                    FieldError(
                        field,
                        f"{en}: at most {q.max_length} characters",
                        f"{zh}：最多{q.max_length}字",
                    )
                )
                continue
            out[q.id] = text
    if errors:
        raise ValidationFailed(errors)
    return out


def _scale(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value in SCALE else None
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) == 1:
        number = int(value.strip())
        return number if number in SCALE else None
    return None


def answer_text(q: Question, value: Any) -> str:
    """An answer as a person reads it (option labels, not values)."""
    if value is None:
        return ""
    if q.type is QType.SINGLE:
        return q.label_of(str(value))
    if q.type is QType.MULTIPLE:
        return "；".join(
            q.label_of(str(v)) for v in (value if isinstance(value, list) else [value])
        )
    return str(value)


def definition_from_stored(data: Mapping[str, Any]) -> Definition:
    """A stored (already checked) definition back as a Definition."""
    return parse_definition(dict(data))


# ---------------------------------------------------------------- the version lifecycle


class VersionState(StrEnum):
    """A version is drafted, published (answers are taken) and retired (no longer asked)."""

    DRAFT = "draft"
    PUBLISHED = "published"
    RETIRED = "retired"


class VersionAction(StrEnum):
    """What a manager does to a version."""

    EDIT = "edit"
    PUBLISH = "publish"
    RETIRE = "retire"
    SUPERSEDE = "supersede"  # the published version, when a newer one is published


TRANSITIONS: dict[tuple[VersionState, VersionAction], VersionState] = {
    (VersionState.DRAFT, VersionAction.EDIT): VersionState.DRAFT,
    (VersionState.DRAFT, VersionAction.PUBLISH): VersionState.PUBLISHED,
    (VersionState.PUBLISHED, VersionAction.RETIRE): VersionState.RETIRED,
    (VersionState.PUBLISHED, VersionAction.SUPERSEDE): VersionState.RETIRED,
}

STATE_LABELS_ZH = {
    VersionState.DRAFT: "草稿",
    VersionState.PUBLISHED: "使用中",
    VersionState.RETIRED: "已停用",
}

MANAGERS = frozenset({"supervisor", "bureau_officer"})


def decide(state: VersionState, action: VersionAction, role: str) -> VersionState:
    """The next state of a version, or why not (a published version never changes content)."""
    if role not in MANAGERS:
        raise Forbidden("only supervisors and bureau officers manage questionnaires")
    nxt = TRANSITIONS.get((state, action))
    if nxt is None:
        allowed = sorted(a.value for (s, a) in TRANSITIONS if s is state)
        raise ActionNotAllowed(
            f"a {state.value} version cannot {action.value}", allowed=allowed, state=state.value
        )
    return nxt


def allowed_actions(state: VersionState) -> list[str]:
    """What a manager may do to a version in this state (the page's buttons)."""
    return [a.value for (s, a) in TRANSITIONS if s is state and a is not VersionAction.SUPERSEDE]


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class OptionCount:
    """How often an option was chosen, and its share of those who answered the question."""

    value: str
    label: str
    count: int
    share: float | None


@dataclass(frozen=True)
class QuestionResult:
    """The results of one question."""

    question: Question
    answered: int
    options: tuple[OptionCount, ...] = ()
    mean: float | None = None  # scale


def summarize(
    defn: Definition,
    *,
    answered: Mapping[str, int],
    choices: Mapping[tuple[str, str], int],
    scales: Mapping[tuple[str, int], int],
) -> list[QuestionResult]:
    """Per question: counts and shares per option (a scale's five points), a scale's mean."""
    out: list[QuestionResult] = []
    for q in defn.questions:
        n = int(answered.get(q.id, 0))
        if q.type in (QType.SINGLE, QType.MULTIPLE):
            opts = tuple(
                OptionCount(o.value, o.label, c, c / n if n else None)
                for o in q.options
                for c in [int(choices.get((q.id, o.value), 0))]
            )
            out.append(QuestionResult(q, n, opts))
        elif q.type is QType.SCALE:
            counts = [int(scales.get((q.id, p), 0)) for p in SCALE]
            total = sum(counts)
            mean = sum(p * c for p, c in zip(SCALE, counts, strict=True)) / total if total else None
            opts = tuple(
                OptionCount(str(p), str(p), c, c / total if total else None)
                for p, c in zip(SCALE, counts, strict=True)
            )
            out.append(QuestionResult(q, n, opts, mean))
        else:
            out.append(QuestionResult(q, n))
    return out


def next_version_number(existing: Sequence[int]) -> int:
    """The number of a new version: one past the highest."""
    return max(existing, default=0) + 1

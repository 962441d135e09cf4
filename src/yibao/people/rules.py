"""Identity rules: citizen ID numbers (GB 11643-1999), phone numbers and names.

Pure functions, no I/O. Every rejection is an :class:`InvalidInput` carrying a short English
message and its Chinese equivalent, so any adapter can show it without knowing the rule.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from typing import Literal

from pypinyin import Style, lazy_pinyin
from stdnum.cn import ric

__all__ = [
    "IdNumber",
    "InvalidInput",
    "mask_id",
    "mask_name",
    "mask_phone",
    "name_initials",
    "normalize_name",
    "normalize_phone",
    "parse_id_number",
]


class InvalidInput(ValueError):
    """Input breaks an identity rule; ``message`` and ``message_zh`` are fit to show a user."""

    def __init__(self, code: str, message: str, message_zh: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.message_zh = message_zh


# --- ID numbers -------------------------------------------------------------------------------

_DIGITS = frozenset("0123456789")
_WHITESPACE = re.compile(r"\s+")

# Province-level codes of GB/T 2260. 71 (Taiwan) is in the standard although no mainland card
# uses it; 81/82/83 are the prefixes of residence permits for Hong Kong, Macao and Taiwan
# residents (港澳台居民居住证, 2018), which are issued with the address code 810000/820000/830000.
_PROVINCES = frozenset(
    [
        *range(11, 16),  # 华北
        *range(21, 24),  # 东北
        *range(31, 38),  # 华东
        *range(41, 47),  # 中南
        *range(50, 55),  # 西南
        *range(61, 66),  # 西北
        71,
        81,
        82,
        83,
    ]
)
_PERMIT_PROVINCES = frozenset({81, 82, 83})
_EARLIEST_BIRTH = date(1900, 1, 1)


@dataclass(frozen=True, repr=False)
class IdNumber:
    """A valid 18-character citizen ID number and what it encodes."""

    value: str
    birth_date: date
    sex: Literal["M", "F"]
    region_code: str

    @property
    def masked(self) -> str:
        """The number with its middle hidden: first 6, eight stars, last 4."""
        return mask_id(self.value)

    @property
    def tail(self) -> str:
        """The last 4 characters, which a citizen types to see his own case."""
        return self.value[-4:]

    # A repr that leaks the full number would end up in logs and tracebacks.
    def __repr__(self) -> str:
        return f"IdNumber({self.masked})"


def parse_id_number(raw: str, *, today: date | None = None) -> IdNumber:
    """Validate a citizen ID number (18 characters, or a legacy 15-digit one) and decode it."""
    # NFKC turns full-width digits from a Chinese input method into ASCII ones.
    text = _WHITESPACE.sub("", unicodedata.normalize("NFKC", raw))
    if not text:
        raise InvalidInput("id_empty", "ID number is empty", "身份证号码不能为空")
    last = len(text)
    for pos, ch in enumerate(text, start=1):
        if ch not in _DIGITS and not (ch in "xX" and pos == last):
            raise InvalidInput(
                "id_chars",
                f"character {pos} must be a digit (only the last one may be X)",
                f"第 {pos} 位应为数字（只有最后一位可以是 X）",
            )
    if len(text) not in (15, 18):
        raise InvalidInput(
            "id_length",
            f"must have 18 characters (or 15 for an old card), got {len(text)}",
            f"应为 18 位（旧证 15 位），实为 {len(text)} 位",
        )
    value = text.upper()
    if len(value) == 15:
        if value[-1] == "X":
            raise InvalidInput(
                "id_chars",
                "character 15 must be a digit (a 15-digit number has no check character)",
                "第 15 位应为数字（15 位旧证号码没有校验码）",
            )
        # Legacy cards (before 1999) carry a two-digit year of the 1900s and no check character.
        body = value[:6] + "19" + value[6:]
        value = body + _check_character(body)

    region = value[:6]
    province = int(region[:2])
    if province not in _PROVINCES or (region[2:] == "0000" and province not in _PERMIT_PROVINCES):
        raise InvalidInput(
            "id_region",
            f"unknown region code {region}",
            f"地址码 {region} 不是有效的行政区划代码",
        )

    try:
        birth = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        raise InvalidInput(
            "id_birth_date",
            "birth date (characters 7-14) is not a real date",
            "出生日期（第 7–14 位）不是有效日期",
        ) from None
    if birth < _EARLIEST_BIRTH:
        raise InvalidInput("id_birth_date", "birth date is before 1900", "出生日期早于 1900 年")
    if birth > (today or date.today()):
        raise InvalidInput("id_birth_future", "birth date is in the future", "出生日期晚于今天")

    expected = _check_character(value[:17])
    if value[17] != expected:
        raise InvalidInput(
            "id_check",
            f"check character does not match: expected {expected}",
            f"校验码不正确，应为 {expected}",
        )
    return IdNumber(
        value=value,
        birth_date=birth,
        sex="M" if int(value[16]) % 2 else "F",
        region_code=region,
    )


def _check_character(body: str) -> str:
    # stdnum expects the check character in place and ignores it; append a placeholder.
    return str(ric.calc_check_digit(body + "0"))


def mask_id(value: str) -> str:
    """Hide an ID number: ``500118********123X`` for 18 characters; never raises."""
    if not isinstance(value, str):
        return ""
    # Only x is upper-cased: str.upper() may lengthen other text (ß -> SS).
    text = _WHITESPACE.sub("", value).replace("x", "X")
    if len(text) == 18:
        return text[:6] + "********" + text[-4:]
    return _mask_keep_tail(text)


def _mask_keep_tail(text: str) -> str:
    # Short values would be given away whole by their last 4, so they get no tail at all.
    if len(text) < 8:
        return "*" * len(text)
    return "*" * (len(text) - 4) + text[-4:]


# --- Phone numbers ----------------------------------------------------------------------------

_PHONE_SEPARATORS = re.compile(r"[\s\-()]+")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
# 010 and 020-029 are the only three-digit area codes; every other one has four digits, so the
# split of an unseparated landline is never ambiguous.
_LANDLINE = re.compile(r"(010|02[0-9]|0[3-9][0-9]{2})([2-9][0-9]{6,7})")


def normalize_phone(raw: str) -> str:
    """Normalize a mobile (``13812345678``) or landline (``023-49876543``) number."""
    text = _PHONE_SEPARATORS.sub("", unicodedata.normalize("NFKC", raw))
    if not text:
        raise InvalidInput("phone_empty", "phone number is empty", "电话号码不能为空")
    international = False
    if text.startswith("+86"):
        text, international = text[3:], True
    elif text.startswith("0086"):
        text, international = text[4:], True
    elif text.startswith("86") and len(text) == 13:
        # Without a plus only a mobile is written this way; a landline would be ambiguous.
        text = text[2:]
    if any(ch not in _DIGITS for ch in text):
        raise InvalidInput(
            "phone_chars",
            "phone number may contain only digits, spaces, dashes and a leading +86",
            "电话号码只能包含数字、空格、短横线和开头的 +86",
        )
    if _MOBILE.fullmatch(text):
        return text
    if international and not text.startswith("0"):
        # From abroad the trunk 0 of the area code is dropped: +86 23 4987 6543.
        text = "0" + text
    match = _LANDLINE.fullmatch(text)
    if match:
        return f"{match[1]}-{match[2]}"
    raise InvalidInput(
        "phone_format",
        "not a mobile number (11 digits from 13 to 19) or a landline with its area code"
        " (e.g. 023-49876543)",
        "不是有效的手机号（11 位，以 13–19 开头）或带区号的固定电话（如 023-49876543）",
    )


def mask_phone(value: str) -> str:
    """Hide a phone number: ``138****5678``, ``023-****6543``; never raises."""
    if not isinstance(value, str):
        return ""
    try:
        normal = normalize_phone(value)
    except InvalidInput:
        return _mask_keep_tail(_WHITESPACE.sub("", value))
    if "-" in normal:
        area, local = normal.split("-")
        return f"{area}-{'*' * (len(local) - 4)}{local[-4:]}"
    return normal[:3] + "****" + normal[-4:]


# --- Names ------------------------------------------------------------------------------------

_DOT = "·"
# Ways people type the interpunct of minority names (阿依古丽·买买提) on various keyboards.
_DOT_VARIANTS = str.maketrans(dict.fromkeys("•・‧∙⋅", _DOT))
_NAME_SEPARATORS = frozenset({" ", _DOT, "-", "'"})
_NAME_MAX = 50
# The first character of these surnames reads differently from the common word.
_SURNAME_INITIALS = {
    "长孙": "zs",
    "曾": "z",
    "单": "s",
    "解": "x",
    "仇": "q",
    "区": "o",
    "查": "z",
    "覃": "q",
    "翟": "z",
}


def _is_cjk(ch: str) -> bool:
    # 〇 is a number in Unicode but a character in some given names.
    return ch == "〇" or unicodedata.name(ch, "").startswith(
        ("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH")
    )


def _is_latin(ch: str) -> bool:
    return ch.isalpha() and unicodedata.name(ch, "").startswith("LATIN")


def normalize_name(raw: str) -> str:
    """Tidy a person's name (spaces, interpunct) and check it is a plausible name."""
    text = unicodedata.normalize("NFKC", raw).translate(_DOT_VARIANTS)
    text = " ".join(text.split())
    text = re.sub(r" ?· ?", _DOT, text)
    # A full stop between two Chinese characters is a mistyped interpunct.
    text = "".join(
        _DOT
        if ch == "." and 0 < i < len(text) - 1 and _is_cjk(text[i - 1]) and _is_cjk(text[i + 1])
        else ch
        for i, ch in enumerate(text)
    )
    if not text:
        raise InvalidInput("name_empty", "name is empty", "姓名不能为空")
    if len(text) > _NAME_MAX:
        raise InvalidInput(
            "name_length",
            f"name is longer than {_NAME_MAX} characters",
            f"姓名超过 {_NAME_MAX} 个字符",
        )
    for pos, ch in enumerate(text, start=1):
        category = unicodedata.category(ch)
        if not (category[0] in "LM" or ch == "〇" or ch in _NAME_SEPARATORS):
            raise InvalidInput(
                "name_chars",
                f"character {pos} is not allowed in a name",
                f"姓名第 {pos} 个字符不允许使用",
            )
    if (
        text[0] in _NAME_SEPARATORS
        or text[-1] in _NAME_SEPARATORS
        or any(a in _NAME_SEPARATORS and b in _NAME_SEPARATORS for a, b in pairwise(text))
    ):
        raise InvalidInput(
            "name_separator",
            "a separator must stand between two parts of the name",
            "分隔符只能位于姓名的两部分之间",
        )
    if not any(_is_cjk(ch) or _is_latin(ch) for ch in text):
        raise InvalidInput(
            "name_letters",
            "name must contain a Chinese character or a Latin letter",
            "姓名须包含汉字或拉丁字母",
        )
    return text


def mask_name(name: str) -> str:
    """Hide all but the first character of a name: 张三 → 张*; never raises."""
    if not isinstance(name, str):
        return ""
    text = " ".join(name.split())
    if len(text) <= 1:
        return text
    return text[0] + "*" * (len(text) - 1)


def name_initials(name: str) -> str:
    """Lower-case pinyin initials for searching: 张三 → ``zs``; Latin letters kept."""
    text = unicodedata.normalize("NFKC", name).strip()
    prefix = ""
    for surname, initials in _SURNAME_INITIALS.items():
        if text.startswith(surname):
            prefix, text = initials, text[len(surname) :]
            break
    spelled = prefix + "".join(lazy_pinyin(text, style=Style.FIRST_LETTER))
    # NFKD splits é into e + accent so the base letter survives the ASCII filter.
    return "".join(ch for ch in unicodedata.normalize("NFKD", spelled).lower() if "a" <= ch <= "z")

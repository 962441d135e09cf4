"""Identity rules: ID numbers, phones, names. Every ID number here is synthetic."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yibao.people.rules import (
    IdNumber,
    InvalidInput,
    mask_id,
    mask_name,
    mask_phone,
    name_initials,
    normalize_name,
    normalize_phone,
    parse_id_number,
)

TODAY = date(2026, 3, 1)
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def check_char(body: str) -> str:
    """MOD 11-2 written out independently of the code under test."""
    return "10X98765432"[sum(int(c) * w for c, w in zip(body, _WEIGHTS, strict=True)) % 11]


def make_id(region: str = "500118", birth: date = date(1953, 4, 12), seq: str = "123") -> str:
    body = f"{region}{birth:%Y%m%d}{seq}"
    return body + check_char(body)


def parse(raw: str) -> IdNumber:
    return parse_id_number(raw, today=TODAY)


def error_of(raw: str) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        parse(raw)
    return info.value


# --- valid numbers ----------------------------------------------------------------------------


def test_valid_number_is_decoded() -> None:
    value = make_id()
    parsed = parse(value)
    assert parsed.value == value
    assert parsed.birth_date == date(1953, 4, 12)
    assert parsed.sex == "M"
    assert parsed.region_code == "500118"
    assert parsed.tail == value[-4:]
    assert parsed.masked == "500118********" + value[-4:]


def test_even_sequence_digit_is_female() -> None:
    assert parse(make_id(seq="124")).sex == "F"


def test_x_check_character_in_either_case_with_spaces() -> None:
    value = make_id(seq="007")
    assert value.endswith("X")
    spaced = f" {value[:6]} {value[6:14]} {value[14:].lower()} "
    assert parse(spaced).value == value


def test_full_width_digits_are_accepted() -> None:
    value = make_id()
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in value)
    assert parse(full_width).value == value


def test_legacy_15_digit_number_is_widened() -> None:
    # 50011819530412123 · weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2:
    # 35+0+0+5+8+32+2+9+30+9+0+36+10+10+8+8+6 = 208; 208 mod 11 = 10 -> check character "2".
    parsed = parse("500118530412123")
    assert parsed.value == "500118195304121232"
    assert parsed.birth_date == date(1953, 4, 12)
    assert parsed.sex == "M"


def test_birth_on_the_day_itself_is_accepted() -> None:
    assert parse(make_id(birth=TODAY)).birth_date == TODAY


@pytest.mark.parametrize("region", ["110101", "650102", "810000", "820000", "830000"])
def test_plausible_regions(region: str) -> None:
    assert parse(make_id(region=region)).region_code == region


def test_repr_does_not_reveal_the_number() -> None:
    value = make_id()
    assert value not in repr(parse(value))
    assert value not in str(parse(value))


# --- each kind of error -----------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["", "   ", "\u3000"])
def test_empty(raw: str) -> None:
    err = error_of(raw)
    assert err.code == "id_empty"
    assert err.message_zh == "身份证号码不能为空"


@pytest.mark.parametrize("raw", ["5001181953", make_id() + "1", make_id()[:17]])
def test_wrong_length(raw: str) -> None:
    err = error_of(raw)
    assert err.code == "id_length"
    assert str(len(raw)) in err.message


@pytest.mark.parametrize(
    ("raw", "position"),
    [
        ("5001A8195304121232", 5),
        ("50011819530412123Y", 18),
        ("500118X95304121232", 7),
        ("50011853041212X", 15),
        ("张三", 1),
    ],
)
def test_non_digit(raw: str, position: int) -> None:
    err = error_of(raw)
    assert err.code == "id_chars"
    assert f"character {position}" in err.message
    assert f"第 {position} 位" in err.message_zh


@pytest.mark.parametrize(
    "body",
    [
        "50011819530231123",  # 31 February
        "50011819531301123",  # month 13
        "50011819530400123",  # day 0
        "50011818991231123",  # before 1900
    ],
)
def test_bad_birth_date(body: str) -> None:
    assert error_of(body + check_char(body)).code == "id_birth_date"


def test_legacy_number_with_bad_date() -> None:
    assert error_of("500118530231123").code == "id_birth_date"


def test_future_birth_date() -> None:
    err = error_of(make_id(birth=TODAY + timedelta(days=1)))
    assert err.code == "id_birth_future"
    assert err.message_zh == "出生日期晚于今天"


@pytest.mark.parametrize("region", ["990118", "190101", "500000", "110000", "000000"])
def test_unknown_region(region: str) -> None:
    err = error_of(make_id(region=region))
    assert err.code == "id_region"
    assert region in err.message


def test_bad_check_character_names_the_expected_one() -> None:
    value = make_id()
    wrong = "0" if value[-1] != "0" else "1"
    err = error_of(value[:-1] + wrong)
    assert err.code == "id_check"
    assert err.message == f"check character does not match: expected {value[-1]}"
    assert err.message_zh == f"校验码不正确，应为 {value[-1]}"


def test_invalid_input_is_a_value_error() -> None:
    assert isinstance(error_of(""), ValueError)


# --- masking ----------------------------------------------------------------------------------


def test_mask_id_18() -> None:
    assert mask_id("50011819530412007X") == "500118********007X"
    assert mask_id("50011819530412007x") == "500118********007X"


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("", ""),
        ("1234", "****"),
        ("1234567", "*******"),
        ("12345678", "****5678"),
        ("500118530412123", "***********2123"),
    ],
)
def test_mask_id_other_lengths_reveal_at_most_the_last_four(value: str, masked: str) -> None:
    assert mask_id(value) == masked


# --- phones -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("8613812345678", "13812345678"),
        ("0086-19912345678", "19912345678"),
        ("023-49876543", "023-49876543"),
        ("02349876543", "023-49876543"),
        ("(023) 4987 6543", "023-49876543"),
        ("+86 23 4987 6543", "023-49876543"),
        ("010-62345678", "010-62345678"),
        ("0830-2345678", "0830-2345678"),
        ("08302345678", "0830-2345678"),
        ("０２３－４９８７６５４３", "023-49876543"),
    ],
)
def test_good_phones(raw: str, normal: str) -> None:
    assert normalize_phone(raw) == normal


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "phone_empty"),
        (" - ", "phone_empty"),
        ("1381234567", "phone_format"),  # 10 digits
        ("138123456789", "phone_format"),  # 12 digits
        ("12812345678", "phone_format"),  # no such mobile prefix
        ("023-1234567", "phone_format"),  # local number starting with 1
        ("023-123456", "phone_format"),
        ("011-62345678", "phone_format"),  # no such area code
        ("+86", "phone_format"),
        ("138a2345678", "phone_chars"),
        ("phone", "phone_chars"),
        ("138+12345678", "phone_chars"),
    ],
)
def test_bad_phones(raw: str, code: str) -> None:
    with pytest.raises(InvalidInput) as info:
        normalize_phone(raw)
    assert info.value.code == code
    assert info.value.message and info.value.message_zh


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("13812345678", "138****5678"),
        ("+86 138 1234 5678", "138****5678"),
        ("023-49876543", "023-****6543"),
        ("0830-2345678", "0830-***5678"),
        ("12345", "*****"),
        ("", ""),
    ],
)
def test_mask_phone(value: str, masked: str) -> None:
    assert mask_phone(value) == masked


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("  张三 ", "张三"),
        ("阿依古丽·买买提", "阿依古丽·买买提"),
        ("阿依古丽 · 买买提", "阿依古丽·买买提"),
        ("阿依古丽•买买提", "阿依古丽·买买提"),
        ("阿依古丽.买买提", "阿依古丽·买买提"),
        ("John   Smith", "John Smith"),
        ("王〇", "王〇"),
        ("张", "张"),
        ("李" * 50, "李" * 50),
    ],
)
def test_good_names(raw: str, normal: str) -> None:
    assert normalize_name(raw) == normal


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "name_empty"),
        ("   ", "name_empty"),
        ("李" * 51, "name_length"),
        ("张3", "name_chars"),
        ("张三!", "name_chars"),
        ("·张三", "name_separator"),
        ("张三·", "name_separator"),
        ("阿依古丽··买买提", "name_separator"),
        ("Дмитрий", "name_letters"),
    ],
)
def test_bad_names(raw: str, code: str) -> None:
    with pytest.raises(InvalidInput) as info:
        normalize_name(raw)
    assert info.value.code == code


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三", "张*"),
        ("欧阳娜娜", "欧***"),
        ("张", "张"),
        ("", ""),
        ("阿依古丽·买买提", "阿*******"),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("name", "initials"),
    [
        ("张三", "zs"),
        ("李四", "ls"),
        ("欧阳娜娜", "oynn"),
        ("阿依古丽·买买提", "ayglmmt"),
        ("曾志伟", "zzw"),
        ("John Smith", "johnsmith"),
        ("José 张", "josez"),
    ],
)
def test_name_initials(name: str, initials: str) -> None:
    assert name_initials(name) == initials


# --- properties -------------------------------------------------------------------------------

_provinces = st.sampled_from(["11", "23", "31", "44", "50", "51", "65"])
_regions = st.builds(
    lambda province, rest: province + rest,
    _provinces,
    st.integers(1, 9999).map(lambda n: f"{n:04d}"),
)
_valid_ids = st.builds(
    make_id,
    _regions,
    st.dates(date(1900, 1, 1), TODAY),
    st.integers(0, 999).map(lambda n: f"{n:03d}"),
)


@given(_valid_ids)
def test_every_valid_number_parses_and_round_trips(value: str) -> None:
    parsed = parse(value)
    assert parsed.value == value
    assert parse(parsed.value) == parsed
    assert parse(value.lower()) == parsed
    assert f"{parsed.birth_date:%Y%m%d}" == value[6:14]
    assert parsed.sex == ("M" if int(value[16]) % 2 else "F")


@given(_valid_ids, st.integers(0, 17), st.integers(1, 10))
def test_changing_any_single_character_makes_it_invalid(value: str, pos: int, step: int) -> None:
    alphabet = "0123456789X" if pos == 17 else "0123456789"
    current = alphabet.index(value[pos])
    changed = alphabet[(current + step) % len(alphabet)]
    if changed == value[pos]:  # step wrapped around the 10-digit alphabet
        changed = alphabet[(current + 1) % len(alphabet)]
    with pytest.raises(InvalidInput):
        parse(value[:pos] + changed + value[pos + 1 :])


_id_like = st.text(alphabet="0123456789xX -\u3000１", max_size=20)


@given(st.one_of(st.text(), _id_like))
def test_arbitrary_text_raises_only_invalid_input(raw: str) -> None:
    for rule in (parse, normalize_phone, normalize_name):
        try:
            rule(raw)
        except InvalidInput as err:
            assert err.message and err.message_zh


@given(st.text())
def test_masks_never_raise(raw: str) -> None:
    assert len(mask_id(raw)) <= len(raw)
    mask_phone(raw)
    mask_name(raw)
    name_initials(raw)

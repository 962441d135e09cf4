"""What makes a password acceptable (等保 level 3: length and complexity, no guessable ones).

Checked on every set and reset: at least ``MIN_LENGTH`` characters, not containing the user
name, at least four different characters, and not one of the common passwords shipped with the
package (the 49,000 of zxcvbn-ts, see data/common-passwords.LICENSE.txt), alone or with digits
and signs around it ("password2026!", "2026qwerty"). Pure apart from reading the list once.
"""

from __future__ import annotations

import gzip
import re
from functools import cache
from importlib import resources

from yibao.errors import FieldError

MIN_LENGTH = 10
MAX_LENGTH = 256
_AFFIX = re.compile(r"^[\d\W_]*(.*?)[\d\W_]*$", re.UNICODE)


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list, lower-cased."""
    data = resources.files("yibao.accounts").joinpath("data/common-passwords.txt.gz").read_bytes()
    return frozenset(w for w in gzip.decompress(data).decode("utf-8").split("\n") if w)


def is_common(password: str) -> bool:
    """Whether ``password`` is a common one, maybe with digits or signs before or after it."""
    low = password.lower()
    words = common_passwords()
    if low in words:
        return True
    core = _AFFIX.match(low)
    stem = core.group(1) if core else low
    return len(stem) >= 4 and stem in words


def problems(password: str, *, username: str, field: str = "password") -> list[FieldError]:
    """Why ``password`` may not be used for the account ``username`` (empty when it may)."""
    if len(password) < MIN_LENGTH:
        return [
            FieldError(
                field,
                f"at least {MIN_LENGTH} characters",
                f"密码至少需要 {MIN_LENGTH} 个字符",
            )
        ]
    if len(password) > MAX_LENGTH:
        return [
            FieldError(field, f"at most {MAX_LENGTH} characters", f"密码最多 {MAX_LENGTH} 个字符")
        ]
    name = username.strip().lower()
    if len(name) >= 3 and name in password.lower():
        return [FieldError(field, "must not contain the user name", "密码不能包含用户名")]
    if len(set(password)) < 4:
        return [
            FieldError(
                field,
                "too simple: use at least four different characters",
                "密码过于简单：至少使用四个不同的字符",
            )
        ]
    if is_common(password):
        return [
            FieldError(
                field,
                "this is one of the most common passwords; choose another",
                "这是最常见的密码之一，容易被猜中，请换一个",
            )
        ]
    return []

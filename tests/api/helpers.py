"""Synthetic applicants and request bodies for API tests (no real personal data)."""

from __future__ import annotations

import itertools
from typing import Any

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_seq = itertools.count(1)


def make_id(region: str = "500118", birth: str = "19530412", seq: int | None = None) -> str:
    """A synthetic ID number with a correct check character."""
    n = next(_seq) if seq is None else seq
    body = f"{region}{birth}{n % 1000:03d}"
    total = sum(int(d) * w for d, w in zip(body, _WEIGHTS, strict=True))
    return body + _CHECK[total % 11]


def intake_body(**over: Any) -> dict[str, Any]:
    """A valid intake at F01 (a hospital station) for the certificate of insurance."""
    body: dict[str, Any] = {
        "service_code": "insurance_certificate",
        "station_code": "F01",
        "channel": "window",
        "applicant": {"id_number": make_id(), "name": "张三", "phone": "13800138000"},
        "materials": ["id_card"],
    }
    body.update(over)
    return body

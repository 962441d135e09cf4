"""What a file must be to be attached: a known type, confirmed by its first bytes; not too big."""

from __future__ import annotations

import re
import unicodedata

from yibao.errors import FieldError

MAX_BYTES = 5 * 1024 * 1024
MAX_PER_OWNER = 20

# Declared type → magic prefixes that the bytes must start with.
TYPES: dict[str, tuple[bytes, ...]] = {
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/webp": (b"RIFF",),
    "application/pdf": (b"%PDF-",),
}
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
}

_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def sniff(data: bytes) -> str | None:
    """The type the bytes are, judged by their first bytes; None when not one we accept."""
    for content_type, prefixes in TYPES.items():
        if any(data.startswith(p) for p in prefixes):
            if content_type == "image/webp" and data[8:12] != b"WEBP":
                continue
            return content_type
    return None


def clean_filename(name: str | None, content_type: str) -> str:
    """A file name safe to store and to send back in Content-Disposition (keeps Chinese)."""
    base = unicodedata.normalize("NFC", (name or "").strip()).rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base.rsplit("\\", 1)[-1]).strip(" .")[:100]
    ext = EXTENSIONS[content_type]
    if not base:
        base = "file" + ext
    elif not base.lower().endswith(ext) and not (ext == ".jpg" and base.lower().endswith(".jpeg")):
        base += ext
    return base


def check(data: bytes, declared: str | None, *, already: int = 0) -> tuple[str, list[FieldError]]:
    """The sniffed content type and the problems with this file (empty when it may be stored)."""
    errors: list[FieldError] = []
    if not data:
        return "", [FieldError("file", "the file is empty", "文件为空")]
    if len(data) > MAX_BYTES:
        errors.append(
            FieldError(
                "file",
                f"the file is larger than {MAX_BYTES // (1024 * 1024)} MiB",
                f"文件超过 {MAX_BYTES // (1024 * 1024)} MB",
            )
        )
    kind = sniff(data)
    if kind is None:
        errors.append(
            FieldError(
                "file",
                "only JPEG, PNG, WebP photos and PDF files",
                "仅支持 JPG、PNG、WebP 图片和 PDF 文件",
            )
        )
    declared_base = (declared or "").split(";", 1)[0].strip().lower()
    if (
        kind
        and declared_base not in ("", "application/octet-stream", kind)
        and not (kind == "image/jpeg" and declared_base == "image/jpg")
    ):
        errors.append(
            FieldError(
                "file", f"the file is not the {declared_base} it claims to be", "文件类型与内容不符"
            )
        )
    if already >= MAX_PER_OWNER:
        errors.append(
            FieldError(
                "file",
                f"at most {MAX_PER_OWNER} files per record",
                f"每条记录最多 {MAX_PER_OWNER} 个文件",
            )
        )
    return kind or "", errors

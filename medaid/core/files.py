"""Files people send (a department's roster, a hospital's declaration) read by their content, not
their name: the one place that says what a file is, which encoding its text is in, and refuses
what cannot be read with a message that says what to do.

- an .xlsx is a zip (`PK\\x03\\x04`); an Excel 97–2003 .xls is an OLE file (`D0 CF 11 E0`) and
  is refused with 「请另存为 .xlsx」; anything else named .xlsx is a renamed file;
- a .csv is text: UTF-8 (with or without its BOM) or, as Chinese Excel saves it, GB18030 (a
  superset of GBK). The head decides, decoded *incrementally*: a head cut from a longer file
  may end inside a character, which is then pending, not an error; a NUL byte says binary;
- a .json (only where the caller takes one: the platform's person-identity records) is text
  whose first character is `[` or `{`.
"""

from __future__ import annotations

import codecs

from medaid.core.errors import Refusal

HEAD_BYTES = 65536
OLE_MAGIC = b"\xd0\xcf\x11\xe0"
ZIP_MAGIC = b"PK\x03\x04"


class FileRefused(Refusal):
    """The whole file is refused; nothing of it is kept. `code` names the reason."""


def file_format(
    head: bytes, file_name: str, *, text_suffixes=(".csv",), json_ok: bool = False
) -> str:
    """ "xlsx", "csv" or (`json_ok`) "json" from the first bytes (`head`, up to `HEAD_BYTES`)
    and the name, or a `FileRefused` saying why not."""
    lower = file_name.lower()
    if not head:
        raise FileRefused("文件为空", code="empty_file", field="file")
    if lower.endswith(".json"):
        return _json_format(head, json_ok)
    if head.startswith(OLE_MAGIC):
        raise FileRefused(
            "不支持 .xls（Excel 97-2003）格式，请在 Excel 中另存为 .xlsx 后上传",
            code="xls_format",
            field="file",
        )
    if lower.endswith((".xls", ".et", ".wps")):
        raise FileRefused(
            "不支持该格式，请另存为 .xlsx 或 .csv 后上传", code="xls_format", field="file"
        )
    if head.startswith(ZIP_MAGIC):
        if not lower.endswith((".xlsx", ".xlsm")):
            message = "文件扩展名与内容不符，Excel 文件请以 .xlsx 上传"
            raise FileRefused(message, code="unknown_format", field="file")
        return "xlsx"
    if lower.endswith((".xlsx", ".xlsm")):
        raise FileRefused(
            "文件扩展名为 .xlsx，但内容不是 Excel 工作簿（可能是改名的文本文件）",
            code="not_xlsx",
            field="file",
        )
    if not lower.endswith(tuple(text_suffixes)):
        message = "仅支持 .xlsx 或 .csv 文件，请使用模板"
        raise FileRefused(message, code="unknown_format", field="file")
    if b"\x00" in head:
        raise FileRefused(
            "文件不是文本格式的 .csv（含二进制内容），请从 Excel 另存为 .csv 或 .xlsx",
            code="binary_csv",
            field="file",
        )
    return "csv"


def _json_format(head: bytes, json_ok: bool) -> str:
    if not json_ok:
        raise FileRefused(
            "此处不接受 JSON 文件：JSON 仅用于医保平台人员身份信息，名册请使用 .xlsx 或 .csv 模板",
            code="unknown_format",
            field="file",
        )
    text = head.removeprefix(codecs.BOM_UTF8).lstrip(b" \t\r\n")
    if b"\x00" in head or not text.startswith((b"[", b"{")):
        raise FileRefused(
            "文件扩展名为 .json，但内容不是 JSON 文本（应以 [ 或 { 开头）",
            code="not_json",
            field="file",
        )
    return "json"


def text_encoding(head: bytes, *, complete: bool) -> str:
    """The encoding of a text file from its head: "utf-8-sig" (BOM), "utf-8", else "gb18030".
    `complete`: the head is the whole file (its last character cannot be cut)."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=complete)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


def read_head(path) -> tuple[bytes, bool]:
    """The first `HEAD_BYTES` of a file and whether that is all of it."""
    with open(path, "rb") as f:
        head = f.read(HEAD_BYTES)
        complete = not f.read(1)
    return head, complete


def open_text(path):
    """A text handle on a .csv in its own encoding (`text_encoding`), for `csv.reader`."""
    head, complete = read_head(path)
    return open(path, encoding=text_encoding(head, complete=complete), newline="")


def encoding_refused() -> FileRefused:
    """What a text that stops decoding half-way is told."""
    return FileRefused(
        "文件编码无法识别，请以 UTF-8 或 GBK（GB18030）编码保存 .csv", code="encoding", field="file"
    )


def too_large(size: int, limit: int) -> FileRefused:
    return FileRefused(
        f"文件过大（{size / 1048576:.1f} MB，上限 {limit / 1048576:.0f} MB），请拆分后分批上传",
        code="file_too_large",
        field="file",
    )


def too_many_rows(limit: int) -> FileRefused:
    return FileRefused(
        f"数据行超过 {limit} 行（上限 {limit} 行），请拆分后分批上传",
        code="too_many_rows",
        field="file",
    )


def xlsx_refused(exc: Exception) -> FileRefused:
    """A workbook calamine cannot open (a damaged archive, a zip that is no workbook); its own
    words are English and technical, so they stay out of the message."""
    return FileRefused(
        "无法读取 Excel 文件：文件已损坏或不是 .xlsx 工作簿，请在 Excel 中重新另存为 .xlsx",
        code="xlsx_broken",
        field="file",
    )

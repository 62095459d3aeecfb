"""Helpers to build spreadsheets the way real ones are built (XlsxWriter, like Excel),
and a private MEDIA_ROOT so uploads of the tests do not land in the project."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import pytest
import xlsxwriter


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _english(settings):
    """Messages are asserted by their English msgids, whatever the catalogs hold."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


def xlsx_bytes(rows: Sequence[Sequence[Any]], *, text_columns: Sequence[int] = ()) -> bytes:
    """An XLSX written like Excel writes it; None leaves a cell empty."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False})
    sheet = workbook.add_worksheet("Sheet1")
    text = workbook.add_format({"num_format": "@"})
    for col in text_columns:
        sheet.set_column(col, col, 16, text)
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, int | float) and not isinstance(value, bool):
                sheet.write_number(r, c, value)
            else:
                sheet.write_string(r, c, str(value))
    workbook.close()
    return buffer.getvalue()


def csv_bytes(rows: Sequence[Sequence[Any]], *, encoding: str = "utf-8-sig", delimiter: str = ",") -> bytes:
    lines = [delimiter.join("" if v is None else str(v) for v in row) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


# The 太康县 territory of the shared samples and the pinned import day (residents, key customers).
from tests.imports.residents_world import import_day, taikang  # noqa: E402, F401

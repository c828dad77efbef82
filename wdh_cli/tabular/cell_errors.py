"""Cells of an xlsx sheet that python-calamine reads as "" though they are not empty.

Error cells (#DIV/0!, #N/A, #REF!, ...): calamine turns them into an empty
string, so a row holding only errors would look blank and be dropped, and
the error would be lost from the output. This module finds them in the
sheet's XML: a quick byte search for an error-typed cell (`t="e"`) first,
which is all most sheets cost, and a real (streaming) parse only when there
is one.

Formula cells saved without their value (XlsxWriter and openpyxl write
formulas so; Excel, WPS and LibreOffice store the value they calculated):
calamine reads the missing value as "". A reader that must not take such a
cell for an empty one (`wdh review apply`) asks for them too.
"""

from __future__ import annotations

import posixpath
import re
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import IO


class CellError(str):
    """The text of an error cell: written back as text, blank as a key (`cell_text`).

    Never equal to the plain text it spells: a cell holding the text "#N/A"
    is a key, the error #N/A is not, and resolve groups rows by their cells.
    """

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return type(other) is CellError and str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash((CellError, str(self)))


class FormulaWithoutValue(str):
    """A formula cell saved without a value: its text is "", like the empty cell calamine reads.

    Only `error_cells(..., formulas=True)` makes them (see the module's docstring).
    """

    __slots__ = ()


NO_VALUE = FormulaWithoutValue("")

# 0-based sheet row -> 0-based column -> the cell's value as wdh reads it
ErrorCells = dict[int, dict[int, CellError | FormulaWithoutValue]]

_CELL_REF = re.compile(r"([A-Za-z]{1,3})([0-9]+)")
_CHUNK = 1 << 20


def error_cells(path: Path, sheet_name: str, *, formulas: bool = False) -> ErrorCells:
    """Every error cell of the sheet `sheet_name` (and with `formulas`, every formula cell
    without a value, as NO_VALUE); {} when there is none.

    The workbook has already been read by calamine; should its XML surprise
    this reader, the sheet is taken to have no such cells rather than fail.
    With `formulas` the sheet is always parsed (no quick search first): it
    is for files of human size.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            part = _sheet_part(archive, sheet_name)
            if part is None:
                return {}
            if not formulas:
                with archive.open(part) as stream:
                    if not _mentions_errors(stream):
                        return {}
            with archive.open(part) as stream:
                return _parse(stream, formulas)
    except (zipfile.BadZipFile, KeyError, ET.ParseError, OSError, ValueError):
        return {}


def _mentions_errors(stream: IO[bytes]) -> bool:
    """Whether an element has `t="e"` (or `t='e'`): two fast finds per chunk.

    Every writer seen (Excel, LibreOffice, XlsxWriter, openpyxl, the OpenXML
    SDK) writes the attribute so; spaces around its `=`, legal but unseen,
    would not be found.
    """
    tail = b""
    while chunk := stream.read(_CHUNK):
        data = tail + chunk
        if data.find(b't="e"') != -1 or data.find(b"t='e'") != -1:
            return True
        tail = data[-4:]  # an attribute split between two chunks
    return False


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _attribute(element: ET.Element, name: str) -> str | None:
    """An attribute by its local name, whatever its namespace."""
    for key, value in element.attrib.items():
        if _local(key) == name:
            return value
    return None


def _rels(archive: zipfile.ZipFile, part: str) -> list[tuple[str, str, str]]:
    """(id, type, target part) of the relationships of `part` (`<dir>/_rels/<name>.rels`)."""
    folder, name = posixpath.split(part)
    rels = ET.fromstring(archive.read(posixpath.join(folder, "_rels", f"{name}.rels")))
    found = []
    for rel in rels:
        target = rel.get("Target", "")
        if target.startswith("/"):
            target = target[1:]
        else:
            target = posixpath.normpath(posixpath.join(folder, target))
        found.append((rel.get("Id", ""), rel.get("Type", ""), target))
    return found


def _sheet_part(archive: zipfile.ZipFile, sheet_name: str) -> str | None:
    """The zip member of the worksheet named `sheet_name`."""
    workbook = next(
        (t for _, kind, t in _rels(archive, "") if kind.endswith("/officeDocument")),
        "xl/workbook.xml",
    )
    targets = {rel_id: target for rel_id, _, target in _rels(archive, workbook)}
    for element in ET.fromstring(archive.read(workbook)).iter():
        if _local(element.tag) == "sheet" and element.get("name") == sheet_name:
            return targets.get(_attribute(element, "id") or "")
    return None


def _parse(stream: IO[bytes], formulas: bool) -> ErrorCells:
    found: ErrorCells = {}
    row = col = -1
    sheet_data: ET.Element | None = None
    for event, element in ET.iterparse(stream, events=("start", "end")):
        tag = _local(element.tag)
        if event == "start":
            if tag == "c":
                ref = _CELL_REF.fullmatch(element.get("r") or "")
                if ref is None:
                    col += 1
                else:
                    row, col = int(ref[2]) - 1, _column_index(ref[1])
            elif tag == "row":
                number = element.get("r")
                row, col = (int(number) - 1 if number else row + 1), -1
            elif tag == "sheetData":
                sheet_data = element
        elif tag == "c":
            kind = element.get("t")
            if kind == "e":
                value = next((child for child in element if _local(child.tag) == "v"), None)
                if value is not None and value.text:
                    found.setdefault(row, {})[col] = CellError(value.text)
            elif formulas and _without_value(element, kind):
                found.setdefault(row, {})[col] = NO_VALUE
        elif tag == "row" and sheet_data is not None:
            sheet_data.clear()  # rows already read are not kept
    return found


def _without_value(cell: ET.Element, kind: str | None) -> bool:
    """Whether a cell is a formula (`<f>`) with no value: no `<v>`, or an empty one.

    An empty `<v>` of a text formula (`t="str"`) is a value, the empty text
    (`=""`, as Excel and LibreOffice save it); an empty one of any other
    type is none (XlsxWriter writes `<v></v>`, openpyxl `<v />`).
    """
    children = {_local(child.tag): child for child in cell}
    if "f" not in children:
        return False
    if kind == "inlineStr":
        return "is" not in children
    value = children.get("v")
    return value is None or (not value.text and kind != "str")


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters.upper():
        index = index * 26 + ord(letter) - ord("A") + 1
    return index - 1

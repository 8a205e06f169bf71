"""Excel's column letters (io/refs.py) agree with openpyxl's over every column Excel has."""

from __future__ import annotations

from openpyxl.utils import column_index_from_string, get_column_letter

from crmbook.io.refs import column_letter, column_number


def test_every_excel_column_has_openpyxls_letters_and_back():
    for number in range(1, 16_385):  # A .. XFD
        letters = column_letter(number)
        assert letters == get_column_letter(number)
        assert column_number(letters) == number == column_index_from_string(letters)
    assert column_number("xfd") == 16_384  # as typed by hand

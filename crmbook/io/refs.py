"""Excel's column letters, in a module of their own: the integrity check of every open needs
them without importing pandas."""

from __future__ import annotations


def column_letter(number: int) -> str:
    """Excel's letters of a column: 1 -> A, 27 -> AA (openpyxl's get_column_letter, without
    importing openpyxl on every open)."""
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def column_number(letters: str) -> int:
    """The column of Excel's letters: A -> 1, AA -> 27."""
    number = 0
    for letter in letters.upper():
        number = number * 26 + ord(letter) - 64
    return number

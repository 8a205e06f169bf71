"""Telling the one-byte code pages of contact exports apart by the words they make."""

from __future__ import annotations

import itertools

import pytest

from crmbook.sharing.codepages import guess_code_page

FIRST = ["Сергей", "Екатерина", "Юрий", "Ярослава", "Фёдор", "Эльвира", "Цветана", "Жанна"]
LAST = ["Иванов", "Александрова", "Щукин", "Жукова", "Шаляпин", "Хабибуллина", "Чайковский"]
CITIES = ["Москва", "Санкт-Петербург", "Нижний Новгород", "Екатеринбург", "Казань", "Уфа"]
UKRAINIAN_FIRST = ["Олександр", "Ївга", "Євгенія", "Ґанна", "Іван", "Тетяна", "Юрій", "Богдана"]
UKRAINIAN_LAST = ["Шевченко", "Коваленко", "Їжакевич", "Ґудзь", "Бойко", "Ткачук", "Мельничук"]
UKRAINIAN_CITIES = ["Київ", "Львів", "Харків", "Запоріжжя", "Івано-Франківськ", "Житомир"]
WESTERN = ["José Núñez", "Jürgen Weiß", "François Lefèvre", "Zoë Ørsted", "Åsa Ström"]
TOWNS = ["Málaga", "München", "Besançon", "København", "Göteborg", "Zürich"]


def _one_row_files(names, towns):
    """The hardest case: a file of one contact, the header and a name, email and city."""
    for n, (name, town) in enumerate(itertools.product(names, towns)):
        yield f"Name;Email;City\n{name};p{n}@example.com;{town}\n"


@pytest.mark.parametrize("code", ["cp1251", "koi8-r", "mac-cyrillic"])
def test_one_russian_contact_reads_right_in_each_cyrillic_code_page(code):
    names = [f"{first} {last}" for first, last in zip(FIRST, LAST, strict=False)]
    for text in _one_row_files(names, CITIES):
        data = text.encode(code)
        assert data.decode(guess_code_page(data)) == text


@pytest.mark.parametrize("code", ["cp1251", "koi8-u", "mac-cyrillic"])
def test_one_ukrainian_contact_reads_right_in_each_cyrillic_code_page(code):
    """KOI8-U is KOI8-R with і, ї, є and ґ where KOI8-R has box-drawing signs."""
    names = [
        f"{first} {last}" for first, last in zip(UKRAINIAN_FIRST, UKRAINIAN_LAST, strict=False)
    ]
    for text in _one_row_files(names, UKRAINIAN_CITIES):
        data = text.encode(code)
        assert data.decode(guess_code_page(data)) == text


@pytest.mark.parametrize("code", ["cp1252", "latin-1"])
def test_one_western_contact_still_reads_as_windows_1252(code):
    for text in _one_row_files(WESTERN, TOWNS):
        data = text.encode(code)
        assert data.decode(guess_code_page(data)) == text


def test_text_without_letters_beyond_ascii_is_read_as_windows_1252():
    assert guess_code_page(b"Name;Email\nAnna;anna@example.com\n") == "cp1252"


def test_a_long_export_of_plain_lines_is_told_quickly_and_rightly():
    """Thousands of long plain-ASCII lines (Outlook writes 92 columns) before one accented
    one: the lines with high bytes are found from each line's start (scanning from every
    byte took minutes at 2,400 bytes a line)."""
    plain = ("x" * 2400 + "\n") * 4000
    data = (plain + "Zoë Ørsted;København\n").encode("cp1252")
    assert data.decode(guess_code_page(data)).endswith("Zoë Ørsted;København\n")

"""Which one-byte code page a contact export was saved in, told by the words it makes.

Exports that are not Unicode come in Windows-1252 (Outlook in the West; Latin-1 reads the same),
Windows-1251 (Windows and 1C in Russian and Ukrainian), KOI8-R and KOI8-U (Unix mail and old
Linux exports; KOI8-U has і, ї, є and ґ where KOI8-R has box-drawing signs, so Київ read as
KOI8-R breaks into Ки╖в) or Mac-Cyrillic (Excel for Mac's "CSV (Macintosh)"). Each decodes
almost any bytes, so only the result can tell them apart, and a contact file is short: one name
in the wrong code page still reads as letters. charset-normalizer, tried first, took
Mac-Cyrillic for Windows-1251 in a third of one-row files. What does tell them apart is the shape of
the words: read in the wrong code page, KOI8-R's small letters become capitals of other letters
(дОРА), Mac-Cyrillic's capitals become signs or Serbian letters („ора, Џетров), Windows-1251 in
the West becomes words of accented letters only (Èâàí), and Western accents become Cyrillic
letters inside Latin words (Josй). The code page whose words look most like words wins.
"""

from __future__ import annotations

import re
from itertools import islice

# In order of preference when the words cannot tell (text with no letters beyond ASCII).
CODE_PAGES = ("cp1252", "cp1251", "koi8-r", "koi8-u", "mac-cyrillic")
NAMES = {  # as people know them
    "cp1252": "Windows-1252",
    "cp1251": "Windows-1251",
    "koi8-r": "KOI8-R",
    "koi8-u": "KOI8-U",
    "mac-cyrillic": "Mac-Cyrillic",
}
# Enough lines with letters beyond ASCII to decide; the rest of a big file is not looked at.
SAMPLE_LINES = 2000
# Anchored at a line's start: unanchored, every plain line was scanned from each of its bytes.
_WITH_HIGH_BYTES = re.compile(rb"^[^\n]*[\x80-\xff][^\n]*", re.M)
_LETTERS = re.compile(r"[^\W\d_]+")
# Cyrillic letters of Serbian and Macedonian only: in a Russian export they are another code
# page's capitals. The most frequent Russian letters break the few remaining ties.
_NOT_RUSSIAN = frozenset("ЂЃЉЊЌЋЏЅЈђѓљњќћџѕј")
_FREQUENT = frozenset("оеаинтсрвлОЕАИНТСРВЛ")


def guess_code_page(data: bytes) -> str:
    """The code page (a Python codec name) in which `data` reads as the most plausible words."""
    sample = b"\n".join(m.group() for m in islice(_WITH_HIGH_BYTES.finditer(data), SAMPLE_LINES))
    readable = [c for c in CODE_PAGES if _decodes(sample, c)]  # KOI8-R decodes any bytes
    return max(readable, key=lambda code: _plausibility(sample.decode(code)))


def _decodes(data: bytes, code: str) -> bool:
    try:
        data.decode(code)
    except UnicodeDecodeError:
        return False
    return True


def _plausibility(text: str) -> int:
    """Letters in words that look like words count for, letters in others against."""
    score = 0
    for word in _LETTERS.findall(text):
        if word.isascii():
            continue
        if _looks_like_a_word(word):
            score += 2 * len(word) + sum(letter in _FREQUENT for letter in word)
        else:
            score -= 2 * len(word)
    return score


def _looks_like_a_word(word: str) -> bool:
    """One alphabet, written small, Capitalised or in CAPITALS; a Latin word of more than one
    letter has a plain one among them (words of accented letters only are another alphabet)."""
    scripts = {_script(letter) for letter in word}
    if len(scripts) != 1 or None in scripts:
        return False
    if not (word.islower() or word.isupper() or (word[0].isupper() and word[1:].islower())):
        return False
    if scripts == {"latin"}:
        return len(word) == 1 or any(letter.isascii() for letter in word)
    return not any(letter in _NOT_RUSSIAN for letter in word)


def _script(letter: str) -> str | None:
    point = ord(letter)
    if point < 0x250:
        return "latin"
    if 0x400 <= point < 0x530:
        return "cyrillic"
    return None

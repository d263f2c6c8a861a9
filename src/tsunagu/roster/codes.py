"""Japanese identifier formats used in rosters: MEXT 学校コード and 教育委員会コード.

eportal-standard.md §4.7. A 学校コード has 13 characters: 学校種 (letter A–H + digit), 都道府県
(2 digits), 設置区分 (1 digit: 1 国立, 2 公立, 3 私立), a 7-digit serial and a check digit.
"""

from __future__ import annotations

import re

from tsunagu.tenancy.service import BOARD_CODE_PATTERN

SCHOOL_CODE_PATTERN = re.compile(r"^[A-H][12][0-4][0-9][123][0-9]{7}[0-9]$")

#: 設置区分 公立: every school a municipal board runs.
PUBLIC = "2"


def school_code_check_digit(first12: str) -> int:
    """Check digit of a 学校コード from its first 12 characters.

    The letter becomes two digits (A→01 … H→08); over the resulting 13 digits, weights 1,2,1,2,…
    from the left; the digits of each product are summed; check = (10 − sum mod 10) mod 10.
    """
    if len(first12) != 12 or not ("A" <= first12[0] <= "H") or not first12[1:].isdigit():
        raise ValueError(f"not the first 12 characters of a 学校コード: {first12!r}")
    digits = f"{ord(first12[0]) - ord('A') + 1:02d}{first12[1:]}"
    total = 0
    for position, char in enumerate(digits):
        product = int(char) * (1 if position % 2 == 0 else 2)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10


def make_school_code(school_type: str, prefecture: str, serial: int, founder: str = PUBLIC) -> str:
    """A 学校コード such as ``B113299990017`` (type ``B1`` 小学校, ``C1`` 中学校, …)."""
    first12 = f"{school_type}{prefecture}{founder}{serial:07d}"
    return f"{first12}{school_code_check_digit(first12)}"


def is_valid_school_code(code: str) -> bool:
    return bool(SCHOOL_CODE_PATTERN.fullmatch(code)) and school_code_check_digit(code[:12]) == int(
        code[12]
    )


def prefecture_of_board(board_code: str) -> str:
    """The 都道府県 digits of a board: its code's first two digits when they name one (01–47)."""
    if not BOARD_CODE_PATTERN.fullmatch(board_code):
        raise ValueError(f"not a 教育委員会コード (six digits, the first 0-4): {board_code!r}")
    prefecture = board_code[:2]
    if not 1 <= int(prefecture) <= 47:
        raise ValueError(f"教育委員会コード {board_code} does not start with a prefecture (01-47)")
    return prefecture

"""Japanese code lists and identifier formats (eportal-standard.md §4.5, §4.7)."""

from __future__ import annotations

import re

from tsunagu.tenancy.service import BOARD_CODE_PATTERN

#: MEXT grade codes: 小 P1–P6, 中 J1–J3, 高 H1–H3, E1–E3 (probably 幼稚園).
GRADE_CODES = frozenset(
    [f"P{i}" for i in range(1, 7)]
    + [f"J{i}" for i in range(1, 4)]
    + [f"H{i}" for i in range(1, 4)]
    + [f"E{i}" for i in range(1, 4)]
)

#: APPLIC subject codes with their subject names (names are [B] in the digest: verify).
SUBJECT_NAMES: dict[str, str] = {
    "P010": "国語",
    "P020": "社会",
    "P030": "算数",
    "P040": "理科",
    "P050": "生活",
    "P060": "音楽",
    "P070": "図画工作",
    "P080": "家庭",
    "P090": "体育",
    "P100": "外国語",
    "J010": "国語",
    "J020": "社会",
    "J030": "数学",
    "J040": "理科",
    "J050": "音楽",
    "J060": "美術",
    "J070": "保健体育",
    "J080": "技術・家庭",
    "J090": "外国語",
}
SUBJECT_CODES = frozenset(SUBJECT_NAMES)

SCHOOL_CODE_PATTERN = re.compile(r"[A-H][12][0-4][0-9][123][0-9]{7}[0-9]")


def school_code_check_digit(code12: str) -> int:
    """Check digit of a MEXT 学校コード from its first 12 characters.

    The letter becomes two digits (A→01 … H→08); over the 13 digits, weights 1,2,1,2…; the
    digits of each product are summed; check = (10 − sum mod 10) mod 10.
    """
    if len(code12) != 12 or not ("A" <= code12[0] <= "H") or not code12[1:].isdigit():
        raise ValueError(f"not the first 12 characters of a 学校コード: {code12!r}")
    digits = f"{ord(code12[0]) - ord('A') + 1:02d}" + code12[1:]
    total = 0
    for position, ch in enumerate(digits):
        product = int(ch) * (1 if position % 2 == 0 else 2)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10


#: 設置区分 公立: every school a municipal board runs.
PUBLIC = "2"


def make_school_code(school_type: str, prefecture: str, serial: int, founder: str = PUBLIC) -> str:
    """A 学校コード such as ``B113299990017`` (type ``B1`` 小学校, ``C1`` 中学校, …)."""
    first12 = f"{school_type}{prefecture}{founder}{serial:07d}"
    return f"{first12}{school_code_check_digit(first12)}"


def is_valid_school_code(code: str) -> bool:
    return school_code_problem(code) is None


def prefecture_of_board(board_code: str) -> str:
    """The 都道府県 digits of a board: its code's first two digits when they name one (01–47)."""
    if not BOARD_CODE_PATTERN.fullmatch(board_code):
        raise ValueError(f"not a 教育委員会コード (six digits, the first 0-4): {board_code!r}")
    prefecture = board_code[:2]
    if not 1 <= int(prefecture) <= 47:
        raise ValueError(f"教育委員会コード {board_code} does not start with a prefecture (01-47)")
    return prefecture


def school_code_problem(code: str) -> tuple[str, str | None] | None:
    """None when ``code`` is a valid school code, else (rule, detail)."""
    if not SCHOOL_CODE_PATTERN.fullmatch(code):
        return "org.school_code", None
    expected = school_code_check_digit(code[:12])
    if int(code[12]) != expected:
        return "org.school_code_check_digit", code[:12] + str(expected)
    return None

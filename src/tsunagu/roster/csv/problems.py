"""Problems an import finds, and the catalogue of rules that produce them.

Each rule has a stable code (used in reports and tests), a severity — an *error* rejects the
whole import, a *warning* is imported and reported — and a message in Japanese and English for
the school clerk who has to fix the file in the 校務支援システム.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Rule:
    code: str
    severity: Severity
    ja: str
    en: str


def _e(code: str, ja: str, en: str) -> Rule:
    return Rule(code, Severity.ERROR, ja, en)


def _w(code: str, ja: str, en: str) -> Rule:
    return Rule(code, Severity.WARNING, ja, en)


_RULES = (
    # --- the package and its manifest (eportal-standard.md §4.2, §4.3) ---
    _e(
        "package.unreadable",
        "名簿パッケージを開けません: {detail}",
        "The roster package cannot be opened: {detail}",
    ),
    _e("manifest.missing", "manifest.csv がありません。", "manifest.csv is missing."),
    _e(
        "manifest.header",
        'manifest.csv の見出し行は "propertyName","value" にしてください。',
        'manifest.csv must have the header "propertyName","value".',
    ),
    _e(
        "manifest.version",
        "manifest.version は 1.0 にしてください（値: {value}）。",
        "manifest.version must be 1.0 (found {value}).",
    ),
    _e(
        "manifest.oneroster_version",
        "oneroster.version は 1.2・1.2.1・1.2_JP のいずれかにしてください（値: {value}）。",
        "oneroster.version must be 1.2, 1.2.1 or 1.2_JP (found {value}).",
    ),
    _e(
        "manifest.file_mode",
        "{value} は使えません。absent・bulk・delta のいずれかにしてください。",
        "'{value}' is not allowed: use absent, bulk or delta.",
    ),
    _w(
        "manifest.unknown_property",
        "manifest.csv に不明な項目 {value} があります（無視します）。",
        "manifest.csv has an unknown property '{value}' (ignored).",
    ),
    _e(
        "manifest.duplicate_property",
        "manifest.csv に項目 {value} が2回あります。",
        "manifest.csv lists '{value}' twice.",
    ),
    _e(
        "manifest.required_file",
        "{value} は必須です。bulk にしてください。",
        "{value} is required: declare it bulk.",
    ),
    _e(
        "manifest.file_missing",
        "manifest.csv で {value} が指定されていますが、ファイルがありません。",
        "manifest.csv declares {value} but the file is not in the package.",
    ),
    _e(
        "manifest.undeclared_file",
        "{value} がパッケージにありますが、manifest.csv では absent です。",
        "{value} is in the package but manifest.csv declares it absent.",
    ),
    _w(
        "manifest.out_of_scope_file",
        "{value} は名簿連携の対象外なので読み込みません。",
        "{value} is outside rostering and is not imported.",
    ),
    # --- encoding and CSV form ---
    _w(
        "encoding.bom",
        "ファイルの先頭に BOM があります。"
        "標準モデルでは BOM なしの UTF-8 です（読み込みは続けます）。",
        "The file starts with a byte-order mark; "
        "the standard asks for UTF-8 without BOM (imported anyway).",
    ),
    _e(
        "encoding.shift_jis",
        "ファイルが Shift_JIS で保存されています。UTF-8（BOM なし）で保存し直してください。",
        "The file is encoded in Shift_JIS: save it again as UTF-8 without BOM.",
    ),
    _e(
        "encoding.invalid",
        "ファイルが UTF-8 として読めません（{detail}）。",
        "The file is not valid UTF-8 ({detail}).",
    ),
    _w(
        "csv.line_ending",
        "改行が CRLF ではありません（{value} 行目から）。",
        "Lines do not end with CRLF (first at line {value}).",
    ),
    _w(
        "csv.unquoted",
        "ダブルクォートで囲まれていない値があります（{value} 行目から）。",
        "Some values are not enclosed in double quotes (first at line {value}).",
    ),
    _e("csv.malformed", "CSV として読めません: {detail}", "The CSV cannot be parsed: {detail}"),
    _e(
        "csv.field_count",
        "列の数が見出し行と違います（{value} 列、見出しは {detail} 列）。",
        "The row has {value} fields but the header has {detail}.",
    ),
    _e(
        "header.empty",
        "ファイルが空です（見出し行がありません）。",
        "The file is empty (no header row).",
    ),
    _e(
        "header.missing_column",
        "必須の列 {column} がありません。",
        "The required column {column} is missing.",
    ),
    _e(
        "header.unknown_column",
        "列 {column} はこのファイルにはありません。",
        "{column} is not a column of this file.",
    ),
    _e(
        "header.duplicate_column",
        "列 {column} が2回あります。",
        "The column {column} appears twice.",
    ),
    _e(
        "header.order",
        "列の順番が違います。{column} は {detail} 番目にしてください。",
        "Columns are out of order: {column} must be column {detail}.",
    ),
    _w(
        "header.layout",
        "見出し行が oneroster.version {value} の形式と違います（{detail}）。",
        "The header does not match the layout of oneroster.version {value} ({detail}).",
    ),
    # --- values in one row ---
    _e("value.required", "{column} は必須です。", "{column} is required."),
    _e(
        "id.not_uuid",
        "{column} が UUID ではありません（値: {value}）。",
        "{column} is not a UUID (found {value}).",
    ),
    _e(
        "id.not_v4",
        "{column} が UUID バージョン4 ではありません（値: {value}）。",
        "{column} is not a version-4 UUID (found {value}).",
    ),
    _e(
        "id.uppercase",
        "{column} に大文字が含まれています。UUID は小文字にしてください（値: {value}）。",
        "{column} has upper-case letters; UUIDs must be lower case (found {value}).",
    ),
    _e(
        "bulk.status_set",
        "bulk のファイルでは {column} を空にしてください（値: {value}）。",
        "In a bulk file {column} must be empty (found {value}).",
    ),
    _e(
        "delta.status",
        "delta のファイルでは status を active か tobedeleted にしてください（値: {value}）。",
        "In a delta file status must be active or tobedeleted (found {value}).",
    ),
    _e(
        "delta.date_last_modified",
        "delta のファイルでは dateLastModified に日時"
        "（例: 2026-04-01T00:00:00.000Z）が必要です（値: {value}）。",
        "In a delta file dateLastModified must be a date-time "
        "such as 2026-04-01T00:00:00.000Z (found {value}).",
    ),
    _w(
        "delta.stale_row",
        "この行は登録済みの情報より古いので反映しません（dateLastModified {value}）。",
        "This row is older than the stored record and is not applied (dateLastModified {value}).",
    ),
    _w(
        "delta.unknown_record",
        "削除（tobedeleted）対象の {value} が登録されていません。",
        "{value} is marked tobedeleted but is not in the roster.",
    ),
    _e(
        "value.enum",
        "{column} の値 {value} は使えません。使える値: {detail}",
        "{column} cannot be '{value}'. Allowed: {detail}",
    ),
    _w(
        "value.boolean_case",
        "{column} は小文字の true / false で書いてください（値: {value}）。",
        "Write {column} as lower-case true / false (found {value}).",
    ),
    _e(
        "value.boolean",
        "{column} は true か false にしてください（値: {value}）。",
        "{column} must be true or false (found {value}).",
    ),
    _e(
        "value.date",
        "{column} は YYYY-MM-DD 形式の日付にしてください（値: {value}）。",
        "{column} must be a date in YYYY-MM-DD form (found {value}).",
    ),
    _e(
        "value.school_year",
        "schoolYear は西暦4桁にしてください（値: {value}）。",
        "schoolYear must be a four-digit year (found {value}).",
    ),
    _e(
        "session.title",
        "学年度の title は「{detail}」の形にしてください（値: {value}）。",
        "The academic session title must read '{detail}' (found {value}).",
    ),
    _e(
        "session.dates",
        "{column} は {detail} にしてください（値: {value}）。",
        "{column} must be {detail} (found {value}).",
    ),
    _e(
        "org.district_parent",
        "教育委員会（district）には parentSourcedId を指定できません。",
        "A district must not have a parentSourcedId.",
    ),
    _e(
        "org.school_code",
        "学校コード {value} の形式が正しくありません（例: B113110000037）。",
        "'{value}' is not a 13-character MEXT school code (e.g. B113110000037).",
    ),
    _e(
        "org.school_code_check_digit",
        "学校コード {value} のチェックディジットが正しくありません（正しくは {detail}）。",
        "The check digit of school code {value} is wrong (expected {detail}).",
    ),
    _e(
        "org.board_code",
        "教育委員会コード {value} の形式が正しくありません（6桁の数字）。",
        "'{value}' is not a 6-digit board-of-education code.",
    ),
    _e(
        "org.identifier_required",
        "{detail}の identifier（コード）は必須です。",
        "The identifier (code) of a {detail} is required.",
    ),
    _e(
        "org.other_tenant",
        "この名簿は教育委員会コード {value} のものです。取り込み先は {detail} です。",
        "This roster belongs to board {value}, but it is being imported into {detail}.",
    ),
    _e(
        "course.title",
        "教科（course）の title は「YYYY年度」で始めてください（値: {value}）。",
        "A course title must start with 'YYYY年度' (found {value}).",
    ),
    _e(
        "course.course_code",
        "courseCode は空にしてください（値: {value}）。",
        "courseCode must be empty (found {value}).",
    ),
    _e(
        "value.grade",
        "学年コード {value} は使えません（P1〜P6, J1〜J3, H1〜H3, E1〜E3）。",
        "'{value}' is not a grade code (P1–P6, J1–J3, H1–H3, E1–E3).",
    ),
    _e(
        "value.subject_code",
        "教科コード {value} は使えません（P010〜P100, J010〜J090）。",
        "'{value}' is not an APPLIC subject code (P010–P100, J010–J090).",
    ),
    _e(
        "value.subjects_mismatch",
        "subjects と subjectCodes の数が合いません（{value} と {detail}）。",
        "subjects and subjectCodes differ in length ({value} and {detail}).",
    ),
    _e(
        "value.halfwidth_kana",
        "{column} に半角カタカナがあります。全角にしてください（値: {value}）。",
        "{column} contains half-width katakana; use full-width (found {value}).",
    ),
    _e(
        "value.kana",
        "{column} は全角カタカナにしてください（値: {value}）。",
        "{column} must be full-width katakana (found {value}).",
    ),
    _e(
        "user.enabled_user",
        "enabledUser は true にしてください（値: {value}）。",
        "enabledUser must be true (found {value}).",
    ),
    _e(
        "user.user_ids",
        "userIds は {{種類:ID}} の形にしてください（値: {value}）。",
        "userIds entries must look like {{Type:id}} (found {value}).",
    ),
    _w(
        "user.password_not_stored",
        "パスワードは取り込みません（{column} 列の値は保存されません）。",
        "Passwords are not imported: values in {column} are not stored.",
    ),
    _e(
        "role.forbidden",
        "role に {value} は使えません。保護者は guardian にしてください。",
        "role '{value}' is not allowed; use guardian for parents and relatives.",
    ),
    _e(
        "enrollment.student_primary",
        "児童生徒の primary は false にしてください（値: {value}）。",
        "A student's primary must be false (found {value}).",
    ),
    _e(
        "enrollment.shussekino",
        "出席番号は1以上の整数にしてください（値: {value}）。",
        "The attendance number must be a positive integer (found {value}).",
    ),
    _w(
        "demographics.not_stored",
        "demographics（生年月日など）は確認のみ行い、保存しません。",
        "Demographics (birth dates etc.) are checked but not stored.",
    ),
    # --- across rows and files ---
    _e(
        "id.duplicate",
        "{column} {value} が同じファイルに2回以上あります（{detail} 行目にも）。",
        "{column} {value} appears more than once in the file (also row {detail}).",
    ),
    _e(
        "ref.missing",
        "{column} の {value} が {detail} にありません。",
        "{column} {value} does not exist in {detail}.",
    ),
    _e(
        "ref.wrong_type",
        "{column} の {value} は {detail} ではありません。",
        "{column} {value} is not a {detail}.",
    ),
    _w(
        "user.home_class_not_homeroom",
        "metadata.jp.homeClass の {value} は学級（homeroom）ではありません。",
        "metadata.jp.homeClass {value} is not a homeroom class.",
    ),
    _w(
        "enrollment.duplicate_shussekino",
        "同じ学級に出席番号 {value} の児童生徒がほかにもいます（{detail} 行目）。",
        "Another pupil of the same class has attendance number {value} (row {detail}).",
    ),
    _e(
        "user.master_identifier_duplicate",
        "userMasterIdentifier {value} が別の利用者（{detail}）と重複しています。",
        "userMasterIdentifier {value} is also used by another user ({detail}).",
    ),
    _e(
        "role.secondary_without_primary",
        "secondary の役割には、同じ利用者の primary の役割が必要です。",
        "A secondary role needs a primary role for the same user.",
    ),
    _e(
        "import.mass_deactivation",
        "この取り込みで有効な利用者 {value} 人のうち {detail} 人が無効になります。"
        "ファイルが欠けていないか確認してください"
        "（意図したものなら --allow-mass-deactivation を付けてください）。",
        "This import would deactivate {detail} of {value} active users. Check that no file is "
        "missing (pass --allow-mass-deactivation if this is intended).",
    ),
)

RULES: dict[str, Rule] = {rule.code: rule for rule in _RULES}


@dataclass(frozen=True)
class Problem:
    """One finding, located as precisely as the input allows."""

    rule: str
    severity: Severity
    file: str | None = None
    #: Data-row number: 1 is the first row after the header. None for file-level problems.
    row: int | None = None
    column: str | None = None
    value: str | None = None
    message_ja: str = ""
    message_en: str = ""

    def location(self) -> str:
        parts = [self.file or "(package)"]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(self.column)
        return ":".join(parts)


def make_problem(
    code: str,
    *,
    file: str | None = None,
    row: int | None = None,
    column: str | None = None,
    value: str | None = None,
    detail: str | None = None,
) -> Problem:
    rule = RULES[code]
    shown = value if value is None or len(value) <= 80 else value[:77] + "..."
    fields = {
        "column": column or "",
        "value": shown if shown is not None else "",
        "detail": detail or "",
    }
    return Problem(
        rule=code,
        severity=rule.severity,
        file=file,
        row=row,
        column=column,
        value=shown,
        message_ja=rule.ja.format(**fields),
        message_en=rule.en.format(**fields),
    )


@dataclass
class ProblemLog:
    """Collects problems, listing at most ``cap`` per (rule, file) and counting the rest."""

    cap: int = 1000
    problems: list[Problem] = field(default_factory=list)
    suppressed: dict[tuple[str, str | None], int] = field(default_factory=dict)
    _listed: dict[tuple[str, str | None], int] = field(default_factory=dict)
    error_count: int = 0
    warning_count: int = 0
    # The importer reads one file while it checks the previous one in SQL: two threads report.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, problem: Problem) -> None:
        with self._lock:
            if problem.severity is Severity.ERROR:
                self.error_count += 1
            else:
                self.warning_count += 1
            key = (problem.rule, problem.file)
            listed = self._listed.get(key, 0)
            if listed >= self.cap:
                self.suppressed[key] = self.suppressed.get(key, 0) + 1
                return
            self._listed[key] = listed + 1
            self.problems.append(problem)

    def report(self, code: str, **where: str | int | None) -> None:
        self.add(make_problem(code, **where))  # type: ignore[arg-type]

    @property
    def has_errors(self) -> bool:
        return self.error_count > 0

    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.ERROR]

    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity is Severity.WARNING]

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from tests.lti.support import (
    TOOL_BASE,
    auth_request,
    parse_form,
    query_of,
    verify_id_token,
)
from tests.portal.support import (
    BOARD_ADMIN,
    BOARD_CODE,
    CLASS_1_1,
    CLASS_5_1,
    DRILL,
    PUPIL,
    PUPIL_JUNIOR,
    TEACHER,
    TEACHER_JUNIOR,
    YOUNG,
    deep_link_material,
    portal_roster,
)
from tests.portal.support import sign_in_htmx as sign_in
from tests.roster.packages import write_package
from tsunagu.container import Container
from tsunagu.portal import service as portal
from tsunagu.web.furigana import kanji_outside_ruby


def school_weekday(container: Container) -> int:
    return portal.school_day(portal.today(container.settings)).isoweekday()


def save_period(client: TestClient, klass: str, subject: str, unit: str) -> int:
    """Set today's 2nd period of a class; the id of its slot (a signed-in teacher)."""
    saved = client.post(
        f"/teach/classes/{klass}/timetable/{school_weekday_of(client)}/2",
        data={"subject": subject, "unit_title": unit},
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    form = client.get(saved.headers["location"])
    slot_id = re.search(r'href="/teach/slots/(\d+)/deep-link/', form.text)
    assert slot_id is not None, form.text
    return int(slot_id.group(1))


def school_weekday_of(client: TestClient) -> int:
    container: Container = client.app.state.container  # type: ignore[attr-defined]
    return school_weekday(container)


def post_class_notice(client: TestClient, container: Container, title: str, body: str = "") -> None:
    """The signed-in teacher posts a notice to class 5-1, shown today and tomorrow."""
    today = portal.today(container.settings)
    posted = client.post(
        "/teach/notices",
        data={
            "audience": "class",
            "class_sourced_id": CLASS_5_1,
            "title": title,
            "body": body,
            "starts_on": today.isoformat(),
            "ends_on": (today + timedelta(days=1)).isoformat(),
        },
        follow_redirects=False,
    )
    assert posted.status_code == 303, posted.text


def place_lesson(client: TestClient, container: Container, klass: str, subject: str, unit: str,
                 title: str) -> str:  # fmt: skip
    """A teacher sets today's 2nd period and picks a material for it by Deep Linking; the id of
    the resource link."""
    sign_in(client, container, BOARD_CODE, TEACHER)
    slot_id = save_period(client, klass, subject, unit)
    return deep_link_material(client, client.tool_key, slot_id, title)  # type: ignore[attr-defined]


def test_learner_sees_today_launches_and_sees_it_in_recent(
    client: TestClient, container: Container
) -> None:
    link = place_lesson(client, container, CLASS_5_1, "算数", "分数のたし算", "分数ドリル1")
    sign_in(client, container, BOARD_CODE, PUPIL)
    home = client.get("/home")
    assert home.status_code == 200
    assert re.search(r"令和\d+年度 つなぐ市立みなみ小学校 5年1組", home.text)
    today = home.text.split('id="today"', 1)[1].split("</ol>", 1)[0]
    assert "算数" in today
    assert "分数のたし算" in today
    assert f'href="/launch/{link}"' in today
    tools = home.text.split('id="tools-heading"', 1)[1].split("</section>", 1)[0]
    assert "計算ドリル" in tools  # the tool deployed to the board, opened at the class's link
    assert "まだありません" in home.text.split('id="recent-heading"', 1)[1]

    # Opening the material: off to the tool's OIDC login initiation (LTI 1.3), the tool
    # answers at the platform's authorization endpoint, which records the launch.
    launched = client.get(f"/launch/{link}", follow_redirects=False)
    assert launched.status_code == 303
    assert launched.headers["location"].startswith(f"{TOOL_BASE}/login?")
    initiation = query_of(launched.headers["location"])
    answer = client.get(
        "/lti/authorize", params=auth_request(initiation, redirect_uri=f"{TOOL_BASE}/launch")
    )
    assert answer.status_code == 200, answer.text
    claims = verify_id_token(parse_form(answer.text)[1]["id_token"], client.get("/lti/jwks").json())
    assert claims["https://purl.imsglobal.org/spec/lti/claim/resource_link"]["id"] == link

    again = client.get("/home")
    recent = again.text.split('id="recent"', 1)[1].split("</ul>", 1)[0]
    assert "分数ドリル1" in recent
    assert "開いた" in recent
    record = client.get("/record")
    assert "分数ドリル1" in record.text
    assert "計算ドリル" in record.text

    # The teacher sees who launched what in the class activity view.
    sign_in(client, container, BOARD_CODE, TEACHER)
    view = client.get(f"/teach/classes/{CLASS_5_1}/activity")
    assert "山田 太郎" in view.text
    assert "分数ドリル1" in view.text


def test_learner_cannot_launch_another_class_material(
    client: TestClient, container: Container
) -> None:
    link = place_lesson(client, container, CLASS_5_1, "算数", "", "5年の教材")
    sign_in(client, container, BOARD_CODE, PUPIL_JUNIOR)
    assert client.get(f"/launch/{link}", follow_redirects=False).status_code == 404
    assert client.get("/launch/no-such-link", follow_redirects=False).status_code == 404
    assert link not in client.get("/home").text


def test_kid_friendly_home_for_first_grader(client: TestClient, container: Container) -> None:
    place_lesson(client, container, CLASS_1_1, "こくご", "ひらがな", "ひらがなカード")
    sign_in(client, container, BOARD_CODE, YOUNG)
    home = client.get("/home")
    assert '<body class="kid"' in home.text
    assert "<ruby>時間割<rp>(</rp><rt>じかんわり</rt>" in home.text
    assert "コバヤシ アオイ" in home.text  # the name in kana, not 小林
    main = home.text.split('<main id="main"', 1)[1]
    assert kanji_outside_ruby(main) == []
    # An older pupil's home has no furigana.
    sign_in(client, container, BOARD_CODE, PUPIL)
    assert "<ruby>" not in client.get("/home").text


def test_teacher_posts_notice_learner_sees_it(client: TestClient, container: Container) -> None:
    sign_in(client, container, BOARD_CODE, TEACHER)
    today = portal.today(container.settings)
    post_class_notice(client, container, "あしたは遠足です", "おべんとうを持ってきてください。")
    bad = client.post(
        "/teach/notices",
        data={"audience": "class", "class_sourced_id": CLASS_5_1, "title": "x",
              "starts_on": "2026-13-01", "ends_on": today.isoformat()},
    )  # fmt: skip
    assert bad.status_code == 400
    assert "YYYY-MM-DD" in bad.text
    sign_in(client, container, BOARD_CODE, PUPIL)
    assert "あしたは遠足です" in client.get("/home").text
    sign_in(client, container, BOARD_CODE, YOUNG)
    assert "あしたは遠足です" not in client.get("/home").text


def test_other_teacher_gets_403(client: TestClient, container: Container) -> None:
    sign_in(client, container, BOARD_CODE, TEACHER_JUNIOR)
    assert client.get(f"/teach/classes/{CLASS_5_1}").status_code == 403
    denied = client.post(f"/teach/classes/{CLASS_5_1}/timetable/1/1", data={"subject": "算数"})
    assert denied.status_code == 403
    sign_in(client, container, BOARD_CODE, PUPIL)
    assert client.get("/teach").status_code == 403
    assert client.get("/admin/roster").status_code == 403


def test_class_roster_lists_numbers_and_kana(client: TestClient, container: Container) -> None:
    sign_in(client, container, BOARD_CODE, TEACHER)
    page = client.get(f"/teach/classes/{CLASS_5_1}")
    rows = re.findall(r'<td class="num">(\d*)</td><td>([^<]+)</td><td>([^<]*)</td>', page.text)
    pupils = [r for r in rows if r[0]]
    assert pupils == [("1", "山田 太郎", "ヤマダ タロウ"), ("2", "田中 さくら", "タナカ サクラ"),
                      ("3", "伊藤 陽向", "イトウ ヒナタ")]  # fmt: skip


def test_english_on_request_and_by_choice(client: TestClient, container: Container) -> None:
    sign_in(client, container, BOARD_CODE, PUPIL)
    japanese = client.get("/home")
    assert '<html lang="ja">' in japanese.text
    assert "今日の時間割" in japanese.text
    english = client.get("/home", headers={"Accept-Language": "en-US,en;q=0.9,ja;q=0.5"})
    assert '<html lang="en">' in english.text
    assert "Today&#39;s timetable" in english.text
    chosen = client.post("/lang", data={"language": "ja", "next": "https://evil.example/"},
                         follow_redirects=False)  # fmt: skip
    assert chosen.status_code == 303
    assert chosen.headers["location"] == "/"
    assert "今日の時間割" in client.get("/home", headers={"Accept-Language": "en"}).text
    assert client.post("/lang", data={"language": "fr"}).status_code == 400


def test_static_assets_are_hashed_immutable_and_gzipped(client: TestClient) -> None:
    sign_in(client, client.app.state.container, BOARD_CODE, PUPIL)  # type: ignore[attr-defined]
    home = client.get("/home")
    css = re.search(r'href="(/static/portal\.[0-9a-f]{16}\.css)"', home.text)
    assert css is not None
    response = client.get(css.group(1), headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert "immutable" in response.headers["cache-control"]
    assert ".card" in response.text
    assert client.get("/static/portal.0000000000000000.css").status_code == 404
    assert home.headers.get("content-encoding") == "gzip"


def test_admin_roster_upload_error_fix_import(
    client: TestClient, container: Container, tmp_path: Path
) -> None:
    sign_in(client, container, BOARD_CODE, BOARD_ADMIN)
    rows = portal_roster()
    rows["users"][2]["userMasterIdentifier"] = "not-a-uuid"
    broken = write_package(tmp_path / "broken.zip", rows)
    upload = client.post(
        "/admin/roster",
        files={"package": ("broken.zip", broken.read_bytes(), "application/zip")},
        follow_redirects=False,
    )
    assert upload.status_code == 303
    review = client.get(upload.headers["location"])
    assert "エラーが" in review.text
    problem_rows = review.text.split('id="problems"', 1)[1].split("</table>", 1)[0]
    assert "users.csv" in problem_rows
    assert "userMasterIdentifier" in problem_rows
    assert "not-a-uuid" in problem_rows
    assert "/apply" not in review.text  # no import button for a refused package
    report = client.get(upload.headers["location"] + "/problems.csv")
    lines = list(csv.DictReader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert any(r["column"] == "userMasterIdentifier" and r["row"] == "3" for r in lines)

    fixed_rows = portal_roster()
    fixed_rows["users"][2]["givenName"] = "太郎丸"
    fixed = write_package(tmp_path / "fixed.zip", fixed_rows)
    second = client.post(
        "/admin/roster",
        files={"package": ("fixed.zip", fixed.read_bytes(), "application/zip")},
        follow_redirects=False,
    )
    review = client.get(second.headers["location"])
    assert "問題はありません" in review.text
    summary = review.text.split('id="summary"', 1)[1].split("</table>", 1)[0]
    assert re.search(r"<td>users</td><td class=\"num\">0</td><td class=\"num\">1</td>", summary)
    applied = client.post(second.headers["location"] + "/apply", follow_redirects=True)
    assert "取り込みました" in applied.text
    sign_in(client, container, BOARD_CODE, TEACHER)
    assert "山田 太郎丸" in client.get(f"/teach/classes/{CLASS_5_1}").text


def test_upload_refuses_non_zip(client: TestClient, container: Container) -> None:
    sign_in(client, container, BOARD_CODE, BOARD_ADMIN)
    response = client.post("/admin/roster", files={"package": ("x.csv", b"a,b", "text/csv")})
    assert response.status_code == 400
    assert "ZIP" in response.text


def test_signed_out_visitor_is_sent_to_sign_in(client: TestClient) -> None:
    response = client.get("/home", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/signin?next=")


def test_timetable_editor_fragments_for_htmx(client: TestClient, container: Container) -> None:
    sign_in(client, container, BOARD_CODE, TEACHER)
    url = f"/teach/classes/{CLASS_5_1}/timetable/3/4"
    headers = {"HX-Request": "true"}
    fragment = client.get(url, headers=headers)
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert fragment.text.lstrip().startswith('<section id="editor"')
    saved = client.post(url, data={"subject": "理科", "unit_title": "てこ"}, headers=headers)
    assert "保存しました" in saved.text
    cell = re.search(r'<td id="cell-3-4" hx-swap-oob="true">.*?</td>', saved.text, re.S)
    assert cell is not None
    assert "理科" in cell.group(0)
    refused = client.post(url, data={"subject": "", "unit_title": "単元だけ"}, headers=headers)
    assert 'role="alert"' in refused.text
    assert 'aria-invalid="true"' in refused.text
    # Without htmx the same refusal is a 400 page.
    assert client.post(url, data={"subject": "", "unit_title": "単元だけ"}).status_code == 400


def test_placing_a_material_records_a_shared_statement(
    client: TestClient, container: Container
) -> None:
    from tsunagu.lrs.service import StatementQuery, query_statements
    from tsunagu.portal.activity import learner_ifi
    from tsunagu.tenancy.service import get_tenant

    link = place_lesson(client, container, CLASS_5_1, "算数", "分数", "分数プリント")
    teacher = sign_in(client, container, BOARD_CODE, TEACHER)
    with container.database.session() as session:
        tenant_id = get_tenant(session, BOARD_CODE).id
        page = query_statements(
            session,
            tenant_id,
            StatementQuery(
                agent=learner_ifi(container.settings.base_url, teacher.user_master_identifier),
                limit=10,
            ),
        )
    assert [s["verb"]["id"] for s in page.statements] == ["http://adlnet.gov/expapi/verbs/shared"]
    shared = page.statements[0]
    assert shared["object"]["id"].endswith(f"/lti/resource-links/{link}")
    assert shared["object"]["definition"]["name"]["ja-JP"] == "分数プリント"
    categories = [c["id"] for c in shared["context"]["contextActivities"]["category"]]
    assert any("/lms" in c for c in categories)  # claims the LMS profile
    # Taking it off the period again leaves the period empty on the learner's home.
    weekday = school_weekday(container)
    form = client.get(f"/teach/classes/{CLASS_5_1}/timetable/{weekday}/2")
    action = re.search(r'action="(/teach/slots/\d+/materials/[^"]+/delete)"', form.text)
    assert action is not None
    assert client.post(action.group(1), follow_redirects=False).status_code == 303
    sign_in(client, container, BOARD_CODE, PUPIL)
    assert link not in client.get("/home").text


def test_another_board_sees_nothing_of_this_one(
    client: TestClient, container: Container, tmp_path: Path
) -> None:
    from tests.roster.packages import OTHER_BOARD_CODE, uid, valid_roster
    from tsunagu.roster.importer import import_roster
    from tsunagu.tenancy.service import create_tenant

    link = place_lesson(client, container, CLASS_5_1, "算数", "分数", "非公開の教材")
    with container.database.transaction() as session:
        create_tenant(session, OTHER_BOARD_CODE, "ほかの市教育委員会")
    other = write_package(tmp_path / "other.zip", valid_roster(OTHER_BOARD_CODE))
    assert import_roster(container, OTHER_BOARD_CODE, other).applied
    outsider = uid(f"{OTHER_BOARD_CODE}:user:t-elem")
    sign_in(client, container, OTHER_BOARD_CODE, outsider)
    assert client.get(f"/teach/classes/{CLASS_5_1}").status_code == 404
    assert client.get(f"/teach/classes/{CLASS_5_1}/timetable/1/1").status_code == 404
    assert client.get(f"/launch/{link}", follow_redirects=False).status_code == 404
    assert "非公開の教材" not in client.get("/teach/notices").text


def test_uploads_are_pruned_and_imported_packages_removed(
    client: TestClient, container: Container, tmp_path: Path
) -> None:
    import os
    import time

    from tsunagu.portal import roster_upload

    admin = sign_in(client, container, BOARD_CODE, BOARD_ADMIN)
    package = write_package(tmp_path / "again.zip", portal_roster())
    first = client.post(
        "/admin/roster",
        files={"package": ("again.zip", package.read_bytes(), "application/zip")},
        follow_redirects=False,
    )
    token = first.headers["location"].rsplit("/", 1)[1]
    upload = roster_upload.load(container, admin, token)
    assert upload is not None
    assert upload.package_path.exists()
    client.post(first.headers["location"] + "/apply")
    assert not upload.package_path.exists()  # imported: the roster copy is gone

    old = time.time() - (roster_upload.KEEP_HOURS + 1) * 3600
    os.utime(upload.folder, (old, old))
    assert roster_upload.prune(container, admin) == 1
    assert client.get(first.headers["location"]).status_code == 404


def test_deep_linking_needs_an_editable_period_and_a_known_tool(
    client: TestClient, container: Container
) -> None:
    sign_in(client, container, BOARD_CODE, TEACHER)
    slot_id = save_period(client, CLASS_5_1, "算数", "分数")
    assert client.get(f"/teach/slots/{slot_id}/deep-link/no-such-tool").status_code == 404
    sign_in(client, container, BOARD_CODE, TEACHER_JUNIOR)
    assert client.get(f"/teach/slots/{slot_id}/deep-link/{DRILL}").status_code == 403
    assert client.get(f"/teach/slots/999999/deep-link/{DRILL}").status_code == 404
    sign_in(client, container, BOARD_CODE, PUPIL)
    assert client.get(f"/teach/slots/{slot_id}/deep-link/{DRILL}").status_code in (403, 404)


def test_clearing_a_period_takes_its_materials_off(
    client: TestClient, container: Container
) -> None:
    from tsunagu.lti.launch import resource_links_for
    from tsunagu.tenancy.service import get_tenant

    link = place_lesson(client, container, CLASS_5_1, "算数", "分数", "分数プリント")
    weekday = school_weekday(container)
    cleared = client.post(
        f"/teach/classes/{CLASS_5_1}/timetable/{weekday}/2",
        data={"subject": "", "unit_title": ""},
        follow_redirects=False,
    )
    assert cleared.status_code == 303
    with container.database.session() as session:
        tenant_id = get_tenant(session, BOARD_CODE).id
        links = resource_links_for(session, tenant_id, CLASS_5_1)
    assert [(x.id, x.placement) for x in links] == [(link, None)]
    # A new lesson in the same period starts without it.
    slot_id = save_period(client, CLASS_5_1, "算数", "小数")
    form = client.get(f"/teach/classes/{CLASS_5_1}/timetable/{weekday}/2")
    assert f"/teach/slots/{slot_id}/materials/{link}/delete" not in form.text
    assert "教材はまだありません" in form.text

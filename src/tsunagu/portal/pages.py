"""The portal's pages for learners (/home), teachers (/teach) and administrators (/admin).

Thin handlers: parse the form, call a service, render a template. Every page needs a signed-in
principal (``require_principal``); what each may see and do is decided in
:mod:`tsunagu.identity.policy`. Forms work without JavaScript; with htmx the timetable editor
opens a period beside the grid and saves in place (``HX-Request`` answers a fragment, the grid
cell is swapped out of band), and the roster import shows its progress while it runs.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from tsunagu.container import Container
from tsunagu.http import container_dependency
from tsunagu.identity import directory, policy
from tsunagu.identity.policy import ClassRef
from tsunagu.identity.principal import PortalRole, Principal
from tsunagu.identity.web import require_principal
from tsunagu.portal import activity, materials
from tsunagu.portal import roster_upload as uploads
from tsunagu.portal import service as portal
from tsunagu.portal.activity import N_
from tsunagu.portal.home_cache import home_cache
from tsunagu.timetable import service as timetable
from tsunagu.web.templating import render, render_fragment

router = APIRouter(include_in_schema=False)

ContainerDep = Annotated[Container, Depends(container_dependency)]
PrincipalDep = Annotated[Principal, Depends(require_principal)]

SUBJECT_ICONS = {
    "国語": "📖", "書写": "🖌", "算数": "🔢", "数学": "🔢", "生活": "🌱", "理科": "🔬",
    "社会": "🗾", "音楽": "🎵", "図工": "🎨", "図画工作": "🎨", "美術": "🎨", "体育": "⚽",
    "保健体育": "⚽", "道徳": "💬", "学活": "🏫", "学級活動": "🏫", "外国語": "🔤", "英語": "🔤",
    "総合": "🧭", "家庭": "🍳", "技術": "🔧",
    # As young classes' timetables write them.
    "こくご": "📖", "さんすう": "🔢", "せいかつ": "🌱", "おんがく": "🎵", "ずこう": "🎨",
    "たいいく": "⚽", "どうとく": "💬", "がっかつ": "🏫",
}  # fmt: skip
WEEKDAY_LABELS = {1: N_("月"), 2: N_("火"), 3: N_("水"), 4: N_("木"), 5: N_("金"), 6: N_("土")}
WEEKDAY_KANA = {1: "げつ", 2: "か", 3: "すい", 4: "もく", 5: "きん", 6: "ど"}
AUDIENCE_LABELS = {"class": N_("学級"), "grade": N_("学年"), "school": N_("学校全体")}
GRADE_LABELS = {
    "P1": N_("小1"), "P2": N_("小2"), "P3": N_("小3"), "P4": N_("小4"), "P5": N_("小5"),
    "P6": N_("小6"), "J1": N_("中1"), "J2": N_("中2"), "J3": N_("中3"),
}  # fmt: skip


def nav_links(principal: Principal) -> list[tuple[str, str]]:
    links: list[tuple[str, str]] = []
    if principal.has(PortalRole.STUDENT):
        links += [("/home", N_("今日の時間割")), ("/record", N_("学習の記録"))]
    if policy.is_staff(principal):
        links += [("/teach", N_("学級")), ("/teach/notices", N_("お知らせ"))]
    if policy.can_open_admin(principal):
        links.append(("/admin", N_("管理")))
    return links


def page_context(principal: Principal, context: dict[str, Any] | None = None) -> dict[str, Any]:
    """What every page's template may use, plus ``context``."""
    return {
        "principal": principal,
        "nav_links": nav_links(principal),
        "kid_mode": principal.is_young_learner,
        "subject_icons": SUBJECT_ICONS,
        "weekday_labels": WEEKDAY_KANA if principal.is_young_learner else WEEKDAY_LABELS,
        "audience_labels": AUDIENCE_LABELS,
        "grade_labels": GRADE_LABELS,
        "launch_url": materials.launch_url,
        **(context or {}),
    }


def page(
    request: Request,
    principal: Principal,
    name: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(request, name, page_context(principal, context), status_code)


def _ref(principal: Principal, klass: timetable.ClassInfo) -> ClassRef:
    """A class read in the principal's tenant, as the policy module asks about it."""
    return ClassRef(principal.tenant_id, klass.sourced_id, klass.school_sourced_id)


def _is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _fail(exc: timetable.TimetableError) -> HTTPException:
    if isinstance(exc, timetable.PermissionDeniedError):
        return HTTPException(status_code=403, detail="この操作はできません。")
    if isinstance(exc, timetable.NotFoundError):
        return HTTPException(status_code=404, detail="見つかりません。")
    return HTTPException(status_code=400, detail=str(exc))


def _now() -> datetime:
    return datetime.now(UTC)


# --- learners ------------------------------------------------------------------------------


@router.get("/home", response_class=HTMLResponse)
async def learner_home(
    request: Request, container: ContainerDep, principal: PrincipalDep
) -> Response:
    """The learner home, served on the event loop itself, as a synchronous worker would.

    A whole grade opens it at the first bell. Once the class's parts are cached, a visit makes
    one indexed query (the learner's recent study, ~0.3 ms); handing that to a worker thread
    and back costs more than the query, because the two threads then take turns on the
    interpreter lock of a busy process. Measured on the 270,000-pupil city at the first bell
    (docs/portal-benchmark.md): 885-920 requests/s and p95 51-58 ms through a thread, 1,048 and
    39 ms inline. The price is that this worker's other requests wait while those reads run:
    well under a millisecond on a cached visit, a few on the visit that fills a class's entries
    (once per class and cache lifetime), all of them indexed lookups.
    An async driver was tried as well and lost to both (795-835 requests/s, p95 130 ms), its
    per-query overhead being larger than the wait it frees.
    """
    if not principal.has(PortalRole.STUDENT):
        return RedirectResponse("/teach" if policy.is_staff(principal) else "/", status_code=303)
    cache = home_cache(container)
    # Read-only: autocommit on PostgreSQL, one round trip per query.
    with container.database.read_session() as session:
        home = portal.learner_home(session, container.settings, principal, cache)
    context = page_context(principal, {"home": home})

    def fragment(name: str) -> Markup:
        # The class's timetable, materials and tools look the same to all its learners: the
        # HTML is kept with the data it shows (same cache, same invalidation), per day,
        # language and kid mode, which are everything else it depends on.
        key = (
            principal.tenant_id,
            "html",
            name,
            home.klass.sourced_id if home.klass else "",
            home.day,
            home.is_today,
            getattr(request.state, "locale", "ja"),
            principal.is_young_learner,
        )
        return cache.get(key, lambda: render_fragment(request, name, context))

    context["class_html"] = fragment("portal/_home_class.html")
    context["week_html"] = fragment("portal/_week.html")
    return render(request, "portal/home.html", context)


@router.get("/record", response_class=HTMLResponse)
def study_record(request: Request, container: ContainerDep, principal: PrincipalDep) -> Response:
    with container.database.session() as session:
        days = activity.study_record(
            session,
            principal.tenant_id,
            container.settings.base_url,
            principal.user_master_identifier,
            portal.zone(container.settings),
        )
    return page(request, principal, "portal/record.html", {"days": days})


@router.get("/launch/{resource_link_id}")
def launch(resource_link_id: str, container: ContainerDep, principal: PrincipalDep) -> Response:
    """Open a material: off to the tool's OIDC login (LTI 1.3); LTI records the launch."""
    try:
        target = materials.launch_target(container, principal, resource_link_id)
    except materials.LaunchRefusedError as exc:
        raise HTTPException(status_code=exc.status, detail=str(exc)) from exc
    return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})


# --- teachers ------------------------------------------------------------------------------


def _staff(principal: Principal) -> None:
    if not policy.is_staff(principal):
        raise HTTPException(status_code=403, detail="教職員のページです。")


@router.get("/teach", response_class=HTMLResponse)
def teacher_home(request: Request, container: ContainerDep, principal: PrincipalDep) -> Response:
    _staff(principal)
    with container.database.session() as session:
        classes = portal.staff_classes(session, principal)
    today = portal.today(container.settings)
    return page(request, principal, "portal/teach.html", {"classes": classes, "today": today})


@router.get("/teach/classes/{class_id}", response_class=HTMLResponse)
def class_roster(
    class_id: str, request: Request, container: ContainerDep, principal: PrincipalDep
) -> Response:
    with container.database.session() as session:
        try:
            klass = portal.viewable_class(session, principal, class_id)
        except timetable.TimetableError as exc:
            raise _fail(exc) from exc
        members = directory.class_members(session, principal.tenant_id, class_id)
    return page(request, principal, "portal/roster.html", {"klass": klass, "members": members})


def _editor_context(
    session: Any, principal: Principal, klass: timetable.ClassInfo
) -> dict[str, Any]:
    week = portal.with_materials(
        session,
        principal.tenant_id,
        klass.sourced_id,
        timetable.week(session, principal.tenant_id, klass.sourced_id),
    )
    return {
        "klass": klass,
        "week": week,
        "weekdays": range(1, 7),
        "periods": range(1, 7),
        "can_edit": policy.can_edit_timetable(principal, _ref(principal, klass)),
    }


@router.get("/teach/classes/{class_id}/timetable", response_class=HTMLResponse)
def timetable_editor(
    class_id: str, request: Request, container: ContainerDep, principal: PrincipalDep
) -> Response:
    with container.database.session() as session:
        try:
            klass = portal.viewable_class(session, principal, class_id)
        except timetable.TimetableError as exc:
            raise _fail(exc) from exc
        context = _editor_context(session, principal, klass)
    return page(request, principal, "portal/timetable_editor.html", context)


def _slot_editor(
    request: Request,
    container: Container,
    principal: Principal,
    class_id: str,
    weekday: int,
    period: int,
    **extra: Any,
) -> Response:
    """The period editor: a fragment for htmx (with the grid cell swapped out of band), else
    the whole page."""
    with container.database.session() as session:
        try:
            klass = portal.viewable_class(session, principal, class_id)
        except timetable.TimetableError as exc:
            raise _fail(exc) from exc
        if weekday not in timetable.WEEKDAYS or not 1 <= period <= timetable.MAX_PERIOD:
            raise HTTPException(status_code=404)
        week = portal.with_materials(
            session,
            principal.tenant_id,
            class_id,
            timetable.week(session, principal.tenant_id, class_id),
        )
        slot = week.get((weekday, period))
        tools = materials.deep_linking_tools(session, principal, class_id)
    context = {
        "klass": klass,
        "weekday": weekday,
        "period": period,
        "slot": slot,
        "tools": tools,
        "saved": bool(request.query_params.get("saved")),
        **extra,
    }
    if _is_htmx(request):
        context["oob_cell"] = True
        return page(request, principal, "portal/_slot_editor.html", context)
    status = 400 if extra.get("error") else 200
    return page(request, principal, "portal/slot_form.html", context, status_code=status)


@router.get("/teach/classes/{class_id}/timetable/{weekday}/{period}", response_class=HTMLResponse)
def slot_form(
    class_id: str,
    weekday: int,
    period: int,
    request: Request,
    container: ContainerDep,
    principal: PrincipalDep,
) -> Response:
    return _slot_editor(request, container, principal, class_id, weekday, period)


@router.post("/teach/classes/{class_id}/timetable/{weekday}/{period}", response_class=HTMLResponse)
def save_slot(
    class_id: str,
    weekday: int,
    period: int,
    request: Request,
    container: ContainerDep,
    principal: PrincipalDep,
    subject: Annotated[str, Form()] = "",
    unit_title: Annotated[str, Form()] = "",
) -> Response:
    try:
        with container.database.transaction() as session:
            before = timetable.week(session, principal.tenant_id, class_id).get((weekday, period))
            slot = timetable.save_slot(
                session, principal, class_id, weekday, period, subject, unit_title, now=_now()
            )
            if slot is None and before is not None:
                # A cleared period takes its materials with it: a later period must never
                # inherit links placed on this one.
                materials.unplace_all(session, principal, before)
    except timetable.InvalidInputError as exc:
        values = {"subject": subject, "unit_title": unit_title}
        return _slot_editor(
            request, container, principal, class_id, weekday, period, error=exc, values=values
        )
    except timetable.TimetableError as exc:
        raise _fail(exc) from exc
    if _is_htmx(request):
        return _slot_editor(request, container, principal, class_id, weekday, period, saved=True)
    target = f"/teach/classes/{class_id}/timetable/{weekday}/{period}?saved=1"
    if slot is None:
        target = f"/teach/classes/{class_id}/timetable"
    return RedirectResponse(target, status_code=303)


@router.post("/teach/slots/{slot_id}/materials/{resource_link_id}/delete")
def remove_material(
    slot_id: int,
    resource_link_id: str,
    request: Request,
    container: ContainerDep,
    principal: PrincipalDep,
) -> Response:
    """Take a material off a period (the resource link stays, with its launches and scores)."""
    with container.database.transaction() as session:
        slot = timetable.get_slot(session, principal.tenant_id, slot_id)
        if slot is None:
            raise HTTPException(status_code=404, detail="見つかりません。")
        try:
            klass = portal.viewable_class(session, principal, slot.class_sourced_id)
        except timetable.TimetableError as exc:
            raise _fail(exc) from exc
        if not policy.can_edit_timetable(principal, _ref(principal, klass)):
            raise HTTPException(status_code=403, detail="この操作はできません。")
        if not materials.unplace(session, principal, slot, resource_link_id):
            raise HTTPException(status_code=404, detail="見つかりません。")
    if _is_htmx(request):
        return _slot_editor(
            request, container, principal, slot.class_sourced_id, slot.weekday, slot.period
        )
    return RedirectResponse(
        f"/teach/classes/{slot.class_sourced_id}/timetable/{slot.weekday}/{slot.period}",
        status_code=303,
    )


@router.get("/teach/slots/{slot_id}/deep-link/{client_id}")
def deep_link(
    slot_id: int,
    client_id: str,
    request: Request,
    container: ContainerDep,
    principal: PrincipalDep,
) -> Response:
    """Pick a material in a tool for this period (LTI Deep Linking 2.0, placement = the slot)."""
    with container.database.session() as session:
        slot = timetable.get_slot(session, principal.tenant_id, slot_id)
        if slot is None:
            raise HTTPException(status_code=404, detail="見つかりません。")
        try:
            klass = portal.viewable_class(session, principal, slot.class_sourced_id)
        except timetable.TimetableError as exc:
            raise _fail(exc) from exc
        if not policy.can_edit_timetable(principal, _ref(principal, klass)):
            raise HTTPException(status_code=403, detail="この操作はできません。")
    back = f"/teach/classes/{klass.sourced_id}/timetable/{slot.weekday}/{slot.period}"
    try:
        target = materials.start_deep_linking(
            container, principal, client_id, klass.sourced_id, slot.placement, back
        )
    except materials.LaunchRefusedError as exc:
        raise HTTPException(status_code=exc.status, detail=str(exc)) from exc
    return RedirectResponse(target, status_code=303, headers={"Cache-Control": "no-store"})


@router.get("/teach/classes/{class_id}/activity", response_class=HTMLResponse)
def class_activity(
    class_id: str, request: Request, container: ContainerDep, principal: PrincipalDep
) -> Response:
    with container.database.session() as session:
        try:
            klass = portal.viewable_class(session, principal, class_id)
        except timetable.TimetableError as exc:
            raise _fail(exc) from exc
        members = [
            (m.user_master_identifier, m.name)
            for m in directory.class_members(session, principal.tenant_id, class_id)
            if m.role == "student"
        ]
        items = activity.class_activity(
            session,
            principal.tenant_id,
            container.settings.base_url,
            members,
            portal.zone(container.settings),
        )
    return page(request, principal, "portal/class_activity.html", {"klass": klass, "items": items})


def _notices_context(session: Any, container: Container, principal: Principal) -> dict[str, Any]:
    day = portal.today(container.settings)
    return {
        "notices": timetable.notices_for_staff(session, principal, day),
        "classes": portal.staff_classes(session, principal),
        "schools": portal.staff_schools(session, principal),
        "today": day,
        "grades": list(GRADE_LABELS),
    }


@router.get("/teach/notices", response_class=HTMLResponse)
def notices(request: Request, container: ContainerDep, principal: PrincipalDep) -> Response:
    _staff(principal)
    with container.database.session() as session:
        context = _notices_context(session, container, principal)
    return page(request, principal, "portal/notices.html", context)


def _parse_day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise timetable.InvalidInputError(
            field, N_("日付を YYYY-MM-DD で入力してください。")
        ) from exc


@router.post("/teach/notices", response_class=HTMLResponse)
def post_notice(
    request: Request,
    container: ContainerDep,
    principal: PrincipalDep,
    audience: Annotated[str, Form()] = "class",
    class_sourced_id: Annotated[str, Form()] = "",
    school_sourced_id: Annotated[str, Form()] = "",
    grade: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
    body: Annotated[str, Form()] = "",
    starts_on: Annotated[str, Form()] = "",
    ends_on: Annotated[str, Form()] = "",
) -> Response:
    _staff(principal)
    try:
        with container.database.transaction() as session:
            timetable.post_notice(
                session,
                principal,
                audience=audience,
                school_sourced_id=school_sourced_id,
                class_sourced_id=class_sourced_id or None,
                grade=grade or None,
                title=title,
                body=body,
                starts_on=_parse_day(starts_on, "starts_on"),
                ends_on=_parse_day(ends_on, "ends_on"),
                now=_now(),
            )
    except timetable.InvalidInputError as exc:
        with container.database.session() as session:
            context = _notices_context(session, container, principal)
        context["error"] = exc
        context["values"] = {
            "audience": audience,
            "class_sourced_id": class_sourced_id,
            "school_sourced_id": school_sourced_id,
            "grade": grade,
            "title": title,
            "body": body,
            "starts_on": starts_on,
            "ends_on": ends_on,
        }
        return page(request, principal, "portal/notices.html", context, status_code=400)
    except timetable.TimetableError as exc:
        raise _fail(exc) from exc
    return RedirectResponse("/teach/notices?posted=1", status_code=303)


@router.post("/teach/notices/{notice_id}/delete")
def delete_notice(notice_id: int, container: ContainerDep, principal: PrincipalDep) -> Response:
    with container.database.transaction() as session:
        try:
            timetable.delete_notice(session, principal, notice_id)
        except timetable.TimetableError as exc:
            raise _fail(exc) from exc
    return RedirectResponse("/teach/notices", status_code=303)


# --- administrators ------------------------------------------------------------------------


@router.get("/admin", response_class=HTMLResponse)
def admin_home(request: Request, principal: PrincipalDep) -> Response:
    if not policy.can_open_admin(principal):
        raise HTTPException(status_code=403, detail="管理者のページです。")
    board_admin = policy.can_administer_tenant(principal, principal.tenant_id)
    return page(request, principal, "portal/admin.html", {"board_admin": board_admin})


def _roster_admin(principal: Principal) -> None:
    if not policy.can_import_roster(principal, principal.tenant_id):
        raise HTTPException(
            status_code=403, detail="名簿の取り込みは教育委員会の管理者が行います。"
        )


@router.get("/admin/roster", response_class=HTMLResponse)
def roster_upload_form(
    request: Request, container: ContainerDep, principal: PrincipalDep
) -> Response:
    _roster_admin(principal)
    return page(request, principal, "portal/roster_upload.html")


@router.post("/admin/roster", response_class=HTMLResponse)
def roster_upload(
    request: Request,
    container: ContainerDep,
    principal: PrincipalDep,
    package: Annotated[UploadFile, File()],
) -> Response:
    _roster_admin(principal)
    try:
        upload = uploads.receive(container, principal, package.file, package.filename or "")
    except uploads.UploadRefusedError as exc:
        return page(
            request, principal, "portal/roster_upload.html", {"error": str(exc)}, status_code=400
        )
    return RedirectResponse(f"/admin/roster/uploads/{upload.token}", status_code=303)


@router.get("/admin/roster/uploads/{token}", response_class=HTMLResponse)
def roster_upload_result(
    token: str, request: Request, container: ContainerDep, principal: PrincipalDep
) -> Response:
    _roster_admin(principal)
    upload = uploads.load(container, principal, token)
    if upload is None:
        raise HTTPException(status_code=404, detail="見つかりません。")
    return page(request, principal, "portal/roster_result.html", {"upload": upload})


@router.post("/admin/roster/uploads/{token}/apply", response_class=HTMLResponse)
def roster_apply(token: str, container: ContainerDep, principal: PrincipalDep) -> Response:
    _roster_admin(principal)
    upload = uploads.load(container, principal, token)
    if upload is None:
        raise HTTPException(status_code=404, detail="見つかりません。")
    uploads.apply(container, principal, upload)
    return RedirectResponse(f"/admin/roster/uploads/{token}", status_code=303)


@router.get("/admin/roster/uploads/{token}/problems.csv")
def roster_problem_report(token: str, container: ContainerDep, principal: PrincipalDep) -> Response:
    _roster_admin(principal)
    upload = uploads.load(container, principal, token)
    if upload is None:
        raise HTTPException(status_code=404, detail="見つかりません。")
    return FileResponse(
        upload.report_path,
        media_type="text/csv; charset=utf-8",
        filename=f"roster-problems-{token[:8]}.csv",
    )


@router.get("/admin/integrations", response_class=HTMLResponse)
def integrations(request: Request, container: ContainerDep, principal: PrincipalDep) -> Response:
    if not policy.can_view_integrations(principal, principal.tenant_id):
        raise HTTPException(status_code=403, detail="管理者のページです。")
    from tsunagu.lrs.credentials import list_credentials
    from tsunagu.oauth.service import list_clients

    with container.database.session() as session:
        lrs = list_credentials(session, principal.tenant_code)
        clients = list_clients(session, principal.tenant_code)
    return page(request, principal, "portal/integrations.html", {"lrs": lrs, "clients": clients})

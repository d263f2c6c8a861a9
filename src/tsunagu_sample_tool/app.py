"""The Flask application of the sample tool (PyLTI1p3 does every LTI step)."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from cachelib import SimpleCache
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, jsonify, render_template_string, request
from markupsafe import escape
from pylti1p3.contrib.flask import (
    FlaskCacheDataStorage,
    FlaskMessageLaunch,
    FlaskOIDCLogin,
    FlaskRequest,
    FlaskServiceConnector,
)
from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.grade import Grade
from pylti1p3.lineitem import LineItem
from pylti1p3.tool_config import ToolConfDict

from tsunagu_sample_tool import japan_rules
from tsunagu_sample_tool.units import SCORE_MAXIMUM, UNITS, problems, score

PAGE = """<!doctype html><html lang="ja"><head><meta charset="utf-8">
<title>計算ドリル</title></head><body><main data-launch-id="{{ launch_id }}"
data-japan-rules="{{ 'ok' if not rules else 'broken' }}">
<h1>計算ドリル</h1>
{% for rule in rules %}<p class="warning">標準モデル違反: {{ rule }}</p>{% endfor %}
{{ body|safe }}</main></body></html>"""


def _keys(config: dict[str, Any], folder: Path) -> tuple[str, str]:
    path = Path(config.get("private_key_file") or folder / "tool_private_key.pem")
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        path.chmod(0o600)
    private_pem = path.read_text()
    private = serialization.load_pem_private_key(private_pem.encode(), password=None)
    public_pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private_pem, public_pem


def create_app(config_path: str | Path) -> Flask:
    config_path = Path(config_path)
    config = json.loads(config_path.read_text())
    private_pem, public_pem = _keys(config, config_path.parent)
    issuer = config["issuer"]
    client_id = config["client_id"]
    tool_conf = ToolConfDict(
        {
            issuer: [
                {
                    "default": True,
                    "client_id": client_id,
                    "auth_login_url": config["auth_login_url"],
                    "auth_token_url": config["auth_token_url"],
                    "key_set_url": config["key_set_url"],
                    "key_set": None,
                    "deployment_ids": config["deployment_ids"],
                }
            ]
        }
    )
    tool_conf.set_private_key(issuer, private_pem, client_id=client_id)
    tool_conf.set_public_key(issuer, public_pem, client_id=client_id)
    tool_url = config["tool_url"].rstrip("/")

    app = Flask(__name__)
    app.secret_key = config.get("flask_secret") or uuid.uuid4().hex
    # The tool's own cookie name, so it never collides with the portal's on a shared host.
    app.config["SESSION_COOKIE_NAME"] = "drill_session"
    cache = SimpleCache(default_timeout=7200)

    def storage() -> FlaskCacheDataStorage:
        return FlaskCacheDataStorage(cache)

    def restored(launch_id: str) -> Any:
        # from_cache defaults to the abstract connector: name the Flask one (token caching).
        return FlaskMessageLaunch.from_cache(
            launch_id,
            FlaskRequest(),
            tool_conf,
            launch_data_storage=storage(),
            service_connector_cls=FlaskServiceConnector,
        )

    def page(body: str, launch_id: str = "", rules: list[str] | None = None) -> Any:
        return render_template_string(PAGE, body=body, launch_id=launch_id, rules=rules or [])

    @app.get("/jwks")
    def jwks() -> Any:
        return jsonify(tool_conf.get_jwks(issuer, client_id))

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        target = request.values.get("target_link_uri") or f"{tool_url}/launch"
        oidc = FlaskOIDCLogin(FlaskRequest(), tool_conf, launch_data_storage=storage())
        return oidc.redirect(target)

    @app.post("/launch")
    def launch() -> Any:
        message_launch = FlaskMessageLaunch(
            FlaskRequest(), tool_conf, launch_data_storage=storage()
        )
        data = message_launch.get_launch_data()
        launch_id = message_launch.get_launch_id()
        rules = japan_rules.problems(data)  # shown to the user, as the pilot's tools do
        if message_launch.is_deep_link_launch():
            items = "".join(
                f'<li><a class="unit" href="/deep-link?launch_id={launch_id}&unit={u.id}">'
                f"{u.title}</a></li>"
                for u in UNITS.values()
            )
            return page(
                f"<p>授業で使う単元を選んでください。</p><ul>{items}</ul>", launch_id, rules
            )
        custom = data.get("https://purl.imsglobal.org/spec/lti/claim/custom", {})
        if "for_user_id" in custom:
            return page(
                f"<p>結果閲覧: {escape(str(custom['for_user_id']))}"
                f"（点数表示: {escape(str(custom.get('custom_show_score')))}）</p>",
                launch_id,
                rules,
            )
        unit = UNITS.get(custom.get("unit", "add-1"), UNITS["add-1"])
        rows = "".join(
            f'<li>{a} {unit.operator} {b} = <input name="a{i}" inputmode="numeric"></li>'
            for i, (a, b, _) in enumerate(problems(unit))
        )
        _statement(config, issuer, data, "attempted", unit.id, unit.title, None)
        return page(
            f"<h2>{unit.title}</h2><form method=post action=/submit>"
            f'<input type=hidden name=launch_id value="{launch_id}">'
            f'<input type=hidden name=unit value="{unit.id}"><ol>{rows}</ol>'
            "<button>こたえあわせ</button></form>",
            launch_id,
            rules,
        )

    @app.get("/deep-link")
    def deep_link() -> Any:
        message_launch = restored(request.args["launch_id"])
        unit = UNITS[request.args["unit"]]
        resource = (
            DeepLinkResource()
            .set_url(f"{tool_url}/launch")
            .set_title(unit.title)
            .set_custom_params({"unit": unit.id})
        )
        if message_launch.has_ags():
            resource.set_lineitem(
                LineItem().set_score_maximum(SCORE_MAXIMUM).set_label(unit.title).set_tag(unit.id)
            )
        return message_launch.get_deep_link().output_response_form([resource])

    @app.post("/submit")
    def submit() -> Any:
        launch_id = request.form["launch_id"]
        message_launch = restored(launch_id)
        data = message_launch.get_launch_data()
        unit = UNITS[request.form["unit"]]
        answers = [request.form.get(f"a{i}", "") for i in range(len(problems(unit)))]
        points = score(unit, answers)
        results: list[Any] = []
        if message_launch.has_ags():
            ags = message_launch.get_ags()
            grade = (
                Grade()
                .set_score_given(points)
                .set_score_maximum(SCORE_MAXIMUM)
                .set_timestamp(datetime.now(UTC).isoformat(timespec="milliseconds"))
                .set_activity_progress("Completed")
                .set_grading_progress("FullyGraded")
                .set_user_id(data["sub"])
            )
            ags_claim = data.get("https://purl.imsglobal.org/spec/lti-ags/claim/endpoint", {})
            if ags_claim.get("lineitem"):
                ags.put_grade(grade)
                line_item = LineItem({"id": ags_claim["lineitem"]})
            else:
                line_item = LineItem().set_score_maximum(SCORE_MAXIMUM).set_label(unit.title)
                line_item.set_tag(unit.id).set_resource_id(unit.id)
                line_item = ags.find_or_create_lineitem(line_item)
                ags.put_grade(grade, line_item)
            if ags.can_read_grades():
                results = list(ags.get_grades(line_item))
        _statement(config, issuer, data, "completed", unit.id, unit.title, points)
        if request.accept_mimetypes.best == "application/json":
            return jsonify({"score": points, "max": SCORE_MAXIMUM, "results": results})
        return page(f"<p class=score>{points} / {SCORE_MAXIMUM} てん</p>", launch_id)

    @app.get("/api/members")
    def members() -> Any:
        message_launch = restored(request.args["launch_id"])
        if not message_launch.has_nrps():
            return jsonify({"error": "no NRPS in this launch"}), 400
        return jsonify(list(message_launch.get_nrps().get_members()))

    return app


def _statement(
    config: dict[str, Any],
    issuer: str,
    data: Mapping[str, Any],
    verb: str,
    unit_id: str,
    title: str,
    points: int | None,
) -> None:
    """An Assessment-profile statement to the portal's LRS, keyed by the launch's sub (UUID)."""
    lrs = config.get("lrs")
    if not lrs or "sub" not in data:
        return
    statement: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "timestamp": datetime.now(UTC).isoformat(),
        "actor": {"objectType": "Agent", "account": {"homePage": issuer, "name": data["sub"]}},
        "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}", "display": {"en": verb}},
        "object": {
            "objectType": "Activity",
            "id": f"{config['tool_url'].rstrip('/')}/units/{unit_id}",
            "definition": {
                "type": "http://adlnet.gov/expapi/activities/assessment",
                "name": {"ja-JP": title},
            },
        },
        "context": {
            "platform": "計算ドリル",
            "language": "ja-JP",
            "contextActivities": {
                "category": [
                    {
                        "id": "https://w3id.org/japan-xapi/profiles/assessment",
                        "definition": {"type": "http://adlnet.gov/expapi/activities/profile"},
                    }
                ]
            },
        },
    }
    if points is not None:
        statement["result"] = {
            "score": {
                "scaled": round(points / SCORE_MAXIMUM, 4),
                "raw": points,
                "min": 0,
                "max": SCORE_MAXIMUM,
            },
            "completion": True,
        }
    # The drill still works when the LRS is down; the portal's AGS score is the record.
    with contextlib.suppress(requests.RequestException):
        requests.post(
            lrs["endpoint"].rstrip("/") + "/statements",
            json=statement,
            auth=(lrs["key"], lrs["secret"]),
            headers={"X-Experience-API-Version": "1.0.3"},
            timeout=5,
        )

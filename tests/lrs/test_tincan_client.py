"""A third-party xAPI client (Rustici's ``tincan`` for Python) against a real server.

The LRS runs under uvicorn on a loopback port; the client stores a statement with HTTP Basic and
reads it back by id and by query, as a learning tool would.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import uvicorn

from tests.lrs.conftest import Cred
from tsunagu.app import create_app
from tsunagu.container import Container

tincan = pytest.importorskip("tincan")


@pytest.fixture
def live_endpoint(container: Container) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(container=container), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}/xapi/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_tincan_saves_and_reads_back(live_endpoint: str, cred: Cred) -> None:
    lrs = tincan.RemoteLRS(
        version="1.0.1", endpoint=live_endpoint, username=cred.key, password=cred.secret
    )
    about = lrs.about()
    assert about.success, about.data
    assert "1.0.3" in [str(v) for v in about.content.version]

    learner = tincan.Agent(
        object_type="Agent",
        account=tincan.AgentAccount(home_page="https://portal.example.jp", name=str(uuid.uuid4())),
    )
    sent = tincan.Statement(
        id=str(uuid.uuid4()),
        actor=learner,
        verb=tincan.Verb(
            id="http://adlnet.gov/expapi/verbs/completed",
            display=tincan.LanguageMap({"en-US": "completed"}),
        ),
        object=tincan.Activity(
            id="https://portal.example.jp/assignments/42",
            definition=tincan.ActivityDefinition(
                name=tincan.LanguageMap({"ja-JP": "漢字ドリル"}),
            ),
        ),
        result=tincan.Result(score=tincan.Score(scaled=0.8), completion=True),
    )
    saved = lrs.save_statement(sent)
    assert saved.success, (saved.response.status, saved.data)

    back = lrs.retrieve_statement(str(sent.id))
    assert back.success, back.data
    assert str(back.content.id) == str(sent.id)
    assert back.content.result.score.scaled == 0.8
    assert back.content.actor.account.name == learner.account.name

    found = lrs.query_statements({"agent": learner, "limit": 10})
    assert found.success, found.data
    assert [str(s.id) for s in found.content.statements] == [str(sent.id)]

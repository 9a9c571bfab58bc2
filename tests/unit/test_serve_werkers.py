"""`serve --workers N`: each worker builds its own app from what the command hands down."""

from __future__ import annotations

import json

from services import bootstrap
from services.settings import Settings


def test_workers_get_the_factory_and_the_commands_settings(tmp_path, monkeypatch):
    import uvicorn

    from services.cli import beheer

    for naam in ("JEUGDSTROOM_SERVE_HOST", "JEUGDSTROOM_SERVE_INSECURE_NO_AUTH",
                 "JEUGDSTROOM_REGION_CONFIGS"):
        monkeypatch.delenv(naam, raising=False)  # restored after the test, whatever _serve writes
    gebouwd, gestart = [], []
    monkeypatch.setattr(bootstrap, "api", lambda *a, **kw: gebouwd.append(kw) or object())
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: gestart.append((a, kw)))
    beheer._serve(Settings(state_dir=tmp_path), "postgresql://unused", None, "127.0.0.1", 0,
                  insecure_no_auth=True, workers=3)
    assert gebouwd == []  # the supervisor builds no app of its own
    (doel,), opties = gestart[0]
    assert doel == "services.bootstrap:api_voor_werker"
    assert opties["factory"] is True and opties["workers"] == 3

    # in a worker: the factory reads what the command wrote
    monkeypatch.setattr(bootstrap, "endpoints", lambda s: bootstrap.Endpoints("nats://x", "pg://y"))
    monkeypatch.setenv("JEUGDSTROOM_STATE_DIR", str(tmp_path))
    bootstrap.api_voor_werker()
    assert gebouwd == [{"host": "127.0.0.1", "zonder_auth": True}]
    assert json.loads(Settings().model_dump_json())["serve_insecure_no_auth"] is True

"""Shared fixtures: the real embedding model, a small real index, a real assistant."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = Path(__file__).parent / "data"
PG_URL = os.environ.get("TROLYSO_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True, scope="session")
def _no_machine_tuned_model():
    """A model tuned on this machine (`trolyso model tune`) would change answers, also those of
    module- and session-scoped fixtures built before `_isolated_env` runs: the second stage is off
    for the whole session unless a test switches it on (tests/test_tune.py)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TROLYSO_SECOND_STAGE_WEIGHT", "0")
        yield


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path_factory):
    """Tests never read the developer's .env/trolyso.toml or write ./var."""
    for key in list(os.environ):
        if key.startswith("TROLYSO_") and key not in ("TROLYSO_MODEL_DIR", "TROLYSO_TEST_PG_URL",
                                                      "TROLYSO_SECOND_STAGE_WEIGHT"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("TROLYSO_CONFIG", str(tmp_path_factory.mktemp("cfg") / "none.toml"))
    monkeypatch.setenv("TROLYSO_SECOND_STAGE_WEIGHT", "0")  # see _no_machine_tuned_model
    from bot.config import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def cli_in_process(monkeypatch, capsys, tmp_path: Path, argv: list[str], stdin: str = "", tty: bool = False,
                   **env: str) -> tuple[int, str, str]:
    """Run `trolyso ARGV` in this process (the model stays loaded) with TROLYSO_DATA_DIR in
    `tmp_path` and `env` set: (exit code, stdout, stderr). `tty`: stdin says it is a terminal
    (an admin typing the answer to a confirmation)."""
    import io
    import sys

    from bot import cli
    from bot.config import get_settings

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.chdir(tmp_path)
    for key, value in {"TROLYSO_DATA_DIR": str(tmp_path / "var"), **env}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(sys, "stdin", Terminal(stdin) if tty else io.StringIO(stdin))
    get_settings.cache_clear()
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    get_settings.cache_clear()
    out = capsys.readouterr()
    return code, out.out, out.err


def make_eval_set(folder: Path, questions: list[dict]) -> Path:
    """An evaluation set (../shared/eval/SPEC.md) in `folder`: the small test FAQ and knowledge, and `questions`."""
    import json
    import shutil

    folder.mkdir(parents=True)
    shutil.copy(DATA / "faq.yaml", folder / "faq.yaml")
    shutil.copytree(DATA / "knowledge", folder / "knowledge")
    lines = [json.dumps(q, ensure_ascii=False) for q in questions]
    (folder / "questions.jsonl").write_text("\n".join(lines), encoding="utf-8")
    return folder


def make_settings(tmp: Path, **overrides):  # type: ignore[no-untyped-def]
    from bot.config import Settings

    return Settings(_env_file=None, data_dir=tmp, **overrides)


@pytest.fixture(scope="session")
def model_dir() -> Path:
    return Path(os.environ.get("TROLYSO_MODEL_DIR", "~/.cache/trolyso/models")).expanduser()


@pytest.fixture(scope="session")
def embedder(model_dir):
    """The product's embedder: the builtin model on the default (ONNX int8) backend."""
    from indexer.embedder import load_embedder

    return load_embedder("builtin:multilingual-e5-small-q4", model_dir)


@pytest.fixture(scope="session")
def torch_embedder(model_dir):
    """The same model on sentence-transformers (torch, float32): the reference."""
    from indexer.embedder import load_embedder

    return load_embedder("builtin:multilingual-e5-small-q4", model_dir, "torch")


@pytest.fixture(scope="session")
def small_index_dir(tmp_path_factory, embedder) -> Path:
    from indexer.build import build_index

    out = tmp_path_factory.mktemp("index")
    build_index(DATA / "faq.yaml", DATA / "knowledge", out, embedder, progress=False)
    return out


@pytest.fixture()
def settings(tmp_path, model_dir):
    return make_settings(tmp_path, model_dir=model_dir)


@pytest.fixture()
def assistant(settings, small_index_dir, embedder):
    """A real Assistant over the small test FAQ, logging to a fresh SQLite database."""
    from bot.assistant import Assistant, retrieval_params
    from bot.retrieval import Index
    from bot.storage import Store

    index = Index.open(small_index_dir, embedder, retrieval_params(settings))
    store = Store(settings.resolved_db_url, settings.data_dir / "spool.jsonl")
    a = Assistant(settings, index, store)
    yield a
    store.close()


@pytest.fixture(scope="session")
def pg_url() -> str:
    """PostgreSQL must be reachable: a clear failure, never a silent skip."""
    from sqlalchemy import create_engine, text

    from bot.storage import normalize_url

    try:
        engine = create_engine(normalize_url(PG_URL), connect_args={"connect_timeout": 5})
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"PostgreSQL is not reachable at {PG_URL} ({exc.__class__.__name__}: {exc}). "
                    "Start it (see .ci/run) or set TROLYSO_TEST_PG_URL.", pytrace=False)
    return PG_URL


@pytest.fixture()
def pg_schema(pg_url):
    """A fresh PostgreSQL schema for one test, dropped afterwards: (engine, schema name)."""
    import uuid

    from sqlalchemy import create_engine, text

    from bot.storage import normalize_url

    schema = f"t_{uuid.uuid4().hex[:10]}"
    engine = create_engine(normalize_url(pg_url))
    with engine.begin() as conn:
        conn.execute(text(f"create schema {schema}"))
    yield engine, schema
    with engine.begin() as conn:
        conn.execute(text(f"drop schema {schema} cascade"))
    engine.dispose()


@pytest.fixture()
def pg_schema_url(pg_url, pg_schema):
    """The URL of a fresh schema (search_path in the URL)."""
    return f"{pg_url}?options=-csearch_path%3D{pg_schema[1]}"

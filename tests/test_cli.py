"""The CLI contract, run as other tools run it: a subprocess with exit codes and JSON lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DATA, SHARED, make_eval_set

TROLYSO = [sys.executable, "-m", "bot.cli"]
ROOT = Path(__file__).resolve().parents[1]


def run(args, tmp_path, stdin: bytes | None = None, env: dict | None = None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("TROLYSO_") or k == "TROLYSO_MODEL_DIR"}
    e.update({"TROLYSO_DATA_DIR": str(tmp_path / "var"), "PYTHONPATH": str(ROOT)})
    e.update(env or {})
    return subprocess.run(TROLYSO + args, input=stdin, capture_output=True, cwd=tmp_path, env=e, timeout=300)


@pytest.fixture(scope="module")
def cli_index(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    r = run(["index", "--faq", str(DATA / "faq.yaml"), "--knowledge", str(DATA / "knowledge"), "-q"], tmp)
    assert r.returncode == 0, r.stderr.decode()
    assert b"index ready: 8 FAQ entries" in r.stdout
    return tmp


def test_ask_batch_json_contract(cli_index):
    lines = "quen mk vneid thi lam sao\n\n   \r\nchào bạn\n" + "x" * 3000 + "\nbad "
    raw = lines.encode("utf-8") + b"\xff utf8\n"
    r = run(["ask", "--json", "--no-log", "--batch", "-"], cli_index, stdin=raw)
    assert r.returncode == 0, r.stderr.decode()
    out = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert len(out) == 6
    keys = {"question", "kind", "faq_id", "answer", "score", "source", "suggestions"}
    assert all(set(o) == keys for o in out)
    assert out[0]["kind"] == "faq" and out[0]["faq_id"] == "vneid-quen-mat-khau"
    assert out[0]["source"] == "Hướng dẫn của Bộ Công an" and 0 < out[0]["score"] <= 1
    assert out[1]["question"] == "" and out[1]["kind"] == "unanswered" and out[1]["score"] == 0
    assert out[2]["question"] == "   " and out[2]["kind"] == "unanswered"
    assert out[3]["kind"] == "chitchat" and out[3]["score"] == 0
    assert len(out[4]["question"]) == 2000
    assert "\ufffd" in out[5]["question"]
    assert all(o["suggestions"] == [] for o in out if o["kind"] != "clarify")


def test_ask_knowledge_answer_cites_passage(cli_index):
    r = run(["ask", "--json", "--no-log", "Đến năm 2030 kinh tế số phải chiếm bao nhiêu phần trăm GDP?"], cli_index)
    o = json.loads(r.stdout)
    assert o["kind"] == "knowledge", o
    assert "30% GDP" in o["answer"]
    assert o["source"] == "Nghị quyết 57-NQ/TW ngày 22/12/2024 của Bộ Chính trị › Mục tiêu đến năm 2030"
    assert o["faq_id"] is None


def test_ask_without_index_is_a_user_error(tmp_path):
    r = run(["ask", "xin chào"], tmp_path)
    assert r.returncode == 1
    assert b"Traceback" not in r.stderr and b"trolyso index" in r.stderr
    assert len(r.stderr.decode().strip().splitlines()) == 1


def test_usage_errors_exit_2(tmp_path):
    assert run(["ask"], tmp_path).returncode == 2
    assert run(["nonsense"], tmp_path).returncode == 2


def test_faq_check_reports_file_line_and_exit_code(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nfaqs:\n  - id: a\n    answer: x\n", encoding="utf-8")
    r = run(["faq", "check", str(bad)], tmp_path)
    assert r.returncode == 1
    assert f"{bad}:3: error: missing required field `question`" in r.stdout.decode()
    ok = run(["faq", "check", str(DATA / "faq.yaml")], tmp_path)
    assert ok.returncode == 0, ok.stdout.decode()


def test_invalid_faq_leaves_index_untouched(cli_index, tmp_path):
    before = (cli_index / "var/index/current").resolve()
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nfaqs:\n  - id: a\n    question: [x\n", encoding="utf-8")
    r = run(["index", "--faq", str(bad), "--out", str(cli_index / "var/index")], cli_index)
    assert r.returncode == 1
    assert f"{bad}:" in r.stdout.decode() and b"Traceback" not in r.stderr
    assert (cli_index / "var/index/current").resolve() == before


def test_other_model_index_is_refused(cli_index):
    r = run(["ask", "xin chào bạn"], cli_index, env={"TROLYSO_EMBEDDING_MODEL": "/nonexistent/model"})
    assert r.returncode == 1 and b"Traceback" not in r.stderr


def test_eval_json_keys(tmp_path):
    s = make_eval_set(tmp_path / "set", [
        {"id": "q1", "text": "toi quen mat khau vneid", "kind": "no_diacritics", "expect": "vneid-quen-mat-khau"},
        {"id": "q2", "text": "Hôm nay Lai Châu có mưa không?", "kind": "out_of_scope", "expect": None},
        {"id": "q3", "text": "chào bạn", "kind": "chitchat", "expect": "chitchat"},
        {"id": "q4", "text": "Kinh tế số năm 2030 chiếm bao nhiêu GDP?", "kind": "knowledge", "expect_text": ["30%"]},
    ])
    r = run(["eval", "--set", str(s), "--json"], tmp_path)
    assert r.returncode == 0, r.stderr.decode()
    m = json.loads(r.stdout)
    for key in ["in_scope_acc", "in_scope_assisted", "in_scope_wrong", "negative_wrong", "negative_rejection",
                "knowledge_hit", "chitchat", "latency_p50_ms", "latency_p95_ms", "acc_no_diacritics",
                "acc_out_of_scope", "acc_chitchat", "acc_knowledge", "in_scope_right_or_helped", "confusions",
                "confused_pairs"]:
        assert key in m, key
    assert m["in_scope_right_or_helped"] == m["in_scope_acc"] + m["in_scope_assisted"]
    assert m["chitchat"] == 1.0
    assert not (tmp_path / "var" / "trolyso.db").exists()  # eval never touches the database


def test_dev_set_loads_with_project_loader():
    from indexer.faq import load_faq

    assert not load_faq(SHARED / "eval/dev/faq.yaml").errors


def test_answering_does_not_load_torch(cli_index):
    """The default (ONNX) backend answers without importing torch or sentence-transformers:
    that is what keeps start-up near 2-3 s and memory near 0.6 GB (docs/benchmarks.md)."""
    code = ("import sys\nfrom bot.cli import main\n"
            "rc = main(['ask', '--no-log', 'quen mk vneid thi lam sao'])\n"
            "heavy = sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules)\n"
            "print('HEAVY', heavy)\nsys.exit(rc)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TROLYSO_") or k == "TROLYSO_MODEL_DIR"}
    env.update({"TROLYSO_DATA_DIR": str(cli_index / "var"), "PYTHONPATH": str(ROOT)})
    r = subprocess.run([sys.executable, "-c", code], cwd=cli_index, env=env, capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode()
    assert "HEAVY []" in r.stdout.decode(), r.stdout.decode()

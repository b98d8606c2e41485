"""Memory of a running bot and time from process start to the first answer, prebuilt index.

`trolyso serve` runs as a subprocess, polling the fake Telegram Bot API (tests/fakes) served by
this process; a question is queued before the bot starts, so the time measured is process start
-> imports -> model load -> index open -> database migration -> getMe -> first getUpdates ->
answer -> sendMessage received by the fake.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from bench._common import DEV_SET, ROOT, WORK, md_table, rss_mb, write_result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bot_env(data_dir: Path, index_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TROLYSO_") or k == "TROLYSO_MODEL_DIR"}
    env.update({
        "TROLYSO_DATA_DIR": str(data_dir),
        "TROLYSO_INDEX_DIR": str(index_dir),
        "TROLYSO_CONFIG": str(data_dir / "none.toml"),
        "TROLYSO_LISTEN": f"127.0.0.1:{free_port()}",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


def trolyso() -> str:
    return str(Path(sys.executable).with_name("trolyso"))


def ensure_dev_index(backend: str = "onnx") -> Path:
    from bench._common import embedder
    from indexer.build import build_index

    if backend == "onnx":
        emb = embedder()
    else:
        from bot.config import Settings
        from indexer.embedder import load_embedder

        s = Settings(_env_file=None)
        emb = load_embedder(s.embedding_model, s.model_dir, backend)
    out = WORK / f"dev-index-{backend}"
    build_index(DEV_SET / "faq.yaml", DEV_SET / "knowledge", out, emb, progress=False, log=lambda m: None)
    return out


def run(questions: int = 300) -> str:
    from bot.evaluate import load_questions
    from tests.fakes.telegram_api import FakeTelegramAPI

    texts = [q.text for q in load_questions(DEV_SET / "questions.jsonl")]
    data = WORK / "startup"
    rows = []
    # the first start may read the model from disk, the second from the page cache
    # "onnx+2nd": the second stage on, when a model was tuned on the dev FAQ
    # (`trolyso model tune --faq ../shared/eval/dev/faq.yaml --no-reviews`); TROLYSO_FAQ names that FAQ
    runs = [("onnx", 1), ("onnx", 2), ("onnx+2nd", 1), ("torch", 1), ("torch", 2)]
    for name, attempt in runs:
        backend = name.split("+")[0]
        extra = {"TROLYSO_FAQ": str(DEV_SET / "faq.yaml")} if name.endswith("2nd") else {}
        index_dir = ensure_dev_index(backend)
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        with FakeTelegramAPI(max_poll=0.5) as api:
            env = bot_env(data, index_dir, TROLYSO_TELEGRAM_TOKEN=api.token, TROLYSO_TELEGRAM_BASE_URL=api.base_url,
                          TROLYSO_RATE_LIMIT_PER_MINUTE="0", TROLYSO_EMBEDDING_BACKEND=backend, **extra)
            api.push(api.text_update(1, texts[0]))
            t0 = time.perf_counter()
            proc = subprocess.Popen([trolyso(), "serve"], env=env, cwd=data, stdout=subprocess.DEVNULL,
                                    stderr=open(data / "serve.log", "wb"))
            try:
                api.wait_for(lambda calls: api.messages_to(1), timeout=180)
                first = time.perf_counter() - t0
                rss_start, _ = rss_mb(proc.pid)
                # steady state: a few hundred questions from many chats, one at a time
                for i, text in enumerate((texts * 3)[:questions]):
                    api.push(api.text_update(100 + i, text))
                api.wait_for(lambda calls: sum(1 for c in calls if c.method == "sendMessage" and c.status == 200)
                             >= questions + 1, timeout=600)
                rss_after, peak = rss_mb(proc.pid)
            finally:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        second = " with the second stage" if extra else ""
        rows.append([f"{backend} backend{second}, start {attempt}", first, rss_start, rss_after, peak])

    # the CLI: one question with a cold process
    t0 = time.perf_counter()
    env = bot_env(data, ensure_dev_index("onnx"))
    subprocess.run([trolyso(), "ask", "--no-log", texts[0]], env=env, cwd=data, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ask_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import sentence_transformers"], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import_s = time.perf_counter() - t0
    body = (
        "`trolyso serve` (Telegram polling against the fake Bot API, dev-set index prebuilt, SQLite log) "
        "started as a subprocess with one question already queued, on the default ONNX int8 backend and "
        "on the torch backend (`TROLYSO_EMBEDDING_BACKEND=torch`). RSS from /proc/<pid>/status: right "
        f"after the first answer, after {questions} more questions, and the peak (VmHWM).\n\n"
        + md_table(["run", "start -> first answer s", "RSS after first answer MB", f"RSS after {questions} questions MB",
                    "peak RSS MB"], rows, nd=1)
        + "\n\n" + md_table(["for comparison", "seconds"], [
            ["`trolyso ask --no-log QUESTION` (process start to exit, onnx backend)", ask_s],
            ["`python -c 'import sentence_transformers'` alone (what the torch backend adds)", import_s]], nd=2))
    return write_result("startup", "Memory and start-up time", body)


if __name__ == "__main__":
    run()

"""How the bot learns from the community teams (issue 11, item 4), simulated on the dev set.

    python bench/learning_curve.py [../shared/eval/dev] [--seeds 3]

The dev set's labels play the reviewers. Questions arrive in a random order; after the first k
(25, 50, 100), every one of them the bot did not answer right (unanswered, a wrong answer the
citizen would rate 👎, a clarification without the right entry) and whose right answer is an FAQ
entry is "linked" by a reviewer: its wording becomes an alternate of that entry through the same
`FaqEditor` the review loop uses, and the index is rebuilt (incrementally). Near misses and
out-of-scope questions get a reviewer's own answer in production (a new entry), which cannot
match a later, different question: they teach nothing here. The rest of the set (not reviewed)
is then scored with the configured thresholds. Printed: mean over seeds.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot import evaluate as ev  # noqa: E402
from bot.assistant import Assistant, retrieval_params  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.retrieval import Index  # noqa: E402
from bot.types import Message  # noqa: E402
from indexer.build import build_index  # noqa: E402
from indexer.embedder import embedder_for  # noqa: E402
from indexer.faq_edit import FaqEditError, FaqEditor  # noqa: E402

STEPS = (0, 25, 50, 100)


def answer_all(assistant: Assistant, questions: list[ev.Question]) -> list:  # type: ignore[type-arg]
    return [assistant.handle(Message(q.text, channel="cli", user_id="eval")) for q in questions]


def teachable(text: str, policy: str) -> bool:
    """Which reviewed wordings become alternates: all (today), or only accented, short ones."""
    if policy == "all":
        return True
    from indexer.text import has_diacritics

    name, _, words = policy.partition(":")
    short = len(text.split()) <= int(words)
    return short and (has_diacritics(text) or name == "short")


def run(set_dir: Path, seeds: int, policy: str = "all") -> list[tuple[int, float, float, float, int, float, float]]:
    settings = Settings()
    embedder = embedder_for(settings)
    questions = ev.load_questions(set_dir / "questions.jsonl")
    rows: dict[int, list[tuple[float, float, float, int, float, float]]] = {k: [] for k in STEPS}
    base_dir = Path(tempfile.mkdtemp())
    build_index(set_dir / "faq.yaml", set_dir / "knowledge", base_dir, embedder, progress=False, log=lambda s: None)
    base = Assistant(settings, Index.open(base_dir, embedder, retrieval_params(settings)), None)
    base_replies = answer_all(base, questions)
    for seed in range(seeds):
        order = list(range(len(questions)))
        random.Random(seed).shuffle(order)
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            faq = work / "faq.yaml"
            shutil.copy(set_dir / "faq.yaml", faq)
            editor = FaqEditor(faq, work / "backups", work / "edit.lock")
            out = work / "index"
            taught = 0
            done = 0
            for k in STEPS:
                for i in order[done:k]:  # the reviewers' decisions on the questions reviewed so far
                    q = questions[i]
                    if q.kind not in ev.IN_SCOPE or not q.expect or not teachable(q.text, policy):
                        continue
                    build_index(faq, set_dir / "knowledge", out, embedder, progress=False, log=lambda s: None)
                    assistant = Assistant(settings, Index.open(out, embedder, retrieval_params(settings)), None)
                    if ev.correct(q, assistant.handle(Message(q.text, channel="cli", user_id="eval"))):
                        continue  # answered right: nobody reviews it
                    try:
                        taught += len(editor.add_alternates(q.expect, [q.text]).added)
                    except FaqEditError:
                        pass  # the entry is not in this FAQ
                done = k
                build_index(faq, set_dir / "knowledge", out, embedder, progress=False, log=lambda s: None)
                assistant = Assistant(settings, Index.open(out, embedder, retrieval_params(settings)), None)
                rest = [questions[i] for i in order[k:]]
                m = ev.score(rest, answer_all(assistant, rest))
                b = ev.score(rest, [base_replies[i] for i in order[k:]])  # the same questions, untaught
                rows[k].append((m["in_scope_acc"], m["in_scope_wrong"], m["in_scope_assisted"], taught,
                                b["in_scope_acc"], b["in_scope_wrong"]))
    shutil.rmtree(base_dir, ignore_errors=True)
    return [(k, *(statistics.mean(r[j] for r in rs) for j in range(3)), round(statistics.mean(r[3] for r in rs)),
             statistics.mean(r[4] for r in rs), statistics.mean(r[5] for r in rs))
            for k, rs in rows.items()]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("set", nargs="?", default=str(ROOT.parent / "shared" / "eval" / "dev"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--policy", default="all",
                        help="all; accented:N (accented wordings of at most N words); short:N (any of at most N)")
    args = parser.parse_args()
    print("| reviewed questions | wordings taught | in-scope right on the rest (untaught) | "
          "confidently wrong (untaught) | helped by a clarification |")
    print("|---|---|---|---|---|")
    for k, acc, wrong, assisted, taught, base_acc, base_wrong in run(Path(args.set), args.seeds, args.policy):
        print(f"| {k} | {taught} | {acc:.3f} ({base_acc:.3f}) | {wrong:.3f} ({base_wrong:.3f}) | {assisted:.3f} |")


if __name__ == "__main__":
    main()

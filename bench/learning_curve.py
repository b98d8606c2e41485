"""How the bot learns from the community teams (issue 11, item 4), simulated on the dev set.

    python bench/learning_curve.py [../shared/eval/dev] [--seeds 3] [--teach alternate|learned|core]

The dev set's labels play the reviewers. Questions arrive in a random order; after the first k
(25, 50, 100), every one of them the bot did not answer right (unanswered, a wrong answer the
citizen would rate 👎, a clarification without the right entry) and whose right answer is an FAQ
entry is "linked" by a reviewer: its wording is taught to that entry through the same
`FaqEditor` the review loop uses, and the index is rebuilt (incrementally). Near misses and
out-of-scope questions get a reviewer's own answer in production (a new entry), which cannot
match a later, different question: they teach nothing here. The rest of the set (not reviewed)
is then scored with the configured thresholds. Printed: mean over seeds.

What teaching is for, measured after the last step:
- "same need": the questions of the rest whose entry was taught (other citizens asking the same
  need in their own words: the dev set has four wordings of each need);
- "repeats": every taught question asked again by another citizen, as it was (same), folded to
  lower case without diacritics (folded), with a typo in a few words (typo), and its last
  sentence alone, as a short form of the same need (short).
Both on the rest's questions whose entry was not taught ("other needs"): what teaching must not
hurt. In brackets, the same questions on the untaught FAQ.

Teaching modes (`--teach`): `alternate` (before: the whole wording becomes an FAQ alternate) and
`learned` (today, `FaqEditor.add_learned`: the wording goes to the entry's `learned` list, which
the index uses for BM25 and fuzzy matching only: indexer/build.py `fuzzy_docs`).
"""

from __future__ import annotations

import argparse
import random
import re
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
from bot.types import Message, Reply  # noqa: E402
from indexer.build import build_index  # noqa: E402
from indexer.embedder import embedder_for  # noqa: E402
from indexer.faq_edit import Edit, FaqEditError, FaqEditor  # noqa: E402
from indexer.text import fold  # noqa: E402

STEPS = (0, 25, 50, 100)
REPEATS = ("same", "folded", "typo", "short")
# per step: right, confidently wrong, negatives answered, taught; untaught: right, confidently wrong, negatives
COLUMNS = 7


def answer_all(assistant: Assistant, texts: list[str]) -> list[Reply]:
    return [assistant.handle(Message(t, channel="cli", user_id="eval")) for t in texts]


def teachable(text: str, policy: str) -> bool:
    """Which reviewed wordings are taught: all, or only accented (accented:N) or any (short:N)
    wordings of at most N words."""
    if policy == "all":
        return True
    from indexer.text import has_diacritics

    name, _, words = policy.partition(":")
    short = len(text.split()) <= int(words)
    return short and (has_diacritics(text) or name == "short")


def teach(editor: FaqEditor, mode: str, faq_id: str, text: str) -> Edit:
    if mode == "alternate":
        return editor.add_alternates(faq_id, [text])
    return editor.add_learned(faq_id, [text])


def typo(text: str, seed: str) -> str:
    """A few typing slips: one letter dropped in about one word of four (at least one)."""
    rnd = random.Random(seed)
    words = text.split()
    long = [i for i, w in enumerate(words) if len(w) >= 4] or list(range(len(words)))
    for i in rnd.sample(long, max(1, len(long) // 4)):
        j = rnd.randrange(1, len(words[i]) - 1) if len(words[i]) > 2 else 0
        words[i] = words[i][:j] + words[i][j + 1:]
    return " ".join(words)


def last_sentence(text: str) -> str:
    """The last sentence of a wording (verbose ones end with their question), without the
    trailing courtesy particle."""
    sentences = [s for s in re.split(r"(?<=[.?!])\s+", text.strip()) if s.strip()]
    return re.sub(r"\s+(ạ|ad|nhé)\s*(?=[?.!]*$)", "", sentences[-1]) if sentences else text


def repeats(q: ev.Question) -> dict[str, str]:
    return {"same": q.text, "folded": fold(q.text).lower(), "typo": typo(q.text, q.id), "short": last_sentence(q.text)}


def mean(xs: list[float]) -> float:
    return statistics.mean(xs) if xs else 0.0


def run(set_dir: Path, seeds: int, policy: str = "all", mode: str = "learned") -> tuple[list, dict]:
    settings = Settings()
    embedder = embedder_for(settings)
    questions = ev.load_questions(set_dir / "questions.jsonl")
    rows: dict[int, list[tuple[float, ...]]] = {k: [] for k in STEPS}
    final: dict[str, list[float]] = {}
    base_dir = Path(tempfile.mkdtemp())
    build_index(set_dir / "faq.yaml", set_dir / "knowledge", base_dir, embedder, progress=False, log=lambda s: None)
    base = Assistant(settings, Index.open(base_dir, embedder, retrieval_params(settings)), None)
    base_replies = answer_all(base, [q.text for q in questions])
    base_cache: dict[str, Reply] = {}

    def untaught(text: str) -> Reply:
        if text not in base_cache:
            base_cache[text] = answer_all(base, [text])[0]
        return base_cache[text]

    for seed in range(seeds):
        order = list(range(len(questions)))
        random.Random(seed).shuffle(order)
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            faq = work / "faq.yaml"
            shutil.copy(set_dir / "faq.yaml", faq)
            editor = FaqEditor(faq, work / "backups", work / "edit.lock")
            out = work / "index"
            taught: list[ev.Question] = []

            def assistant_now(faq: Path = faq, out: Path = out) -> Assistant:
                build_index(faq, set_dir / "knowledge", out, embedder, progress=False, log=lambda s: None)
                return Assistant(settings, Index.open(out, embedder, retrieval_params(settings)), None)

            assistant, done = assistant_now(), 0
            for k in STEPS:
                for i in order[done:k]:  # the reviewers' decisions on the questions reviewed so far
                    q = questions[i]
                    if q.kind not in ev.IN_SCOPE or not q.expect or not teachable(q.text, policy):
                        continue
                    if ev.correct(q, answer_all(assistant, [q.text])[0]):
                        continue  # answered right: nobody reviews it
                    try:
                        if teach(editor, mode, q.expect, q.text).added:
                            taught.append(q)
                            assistant = assistant_now()  # the index follows the FAQ file
                    except FaqEditError:
                        pass  # the entry is not in this FAQ
                done = k
                rest = [questions[i] for i in order[k:]]
                replies = answer_all(assistant, [q.text for q in rest])
                m = ev.score(rest, replies)
                b = ev.score(rest, [base_replies[i] for i in order[k:]])  # the same questions, untaught
                rows[k].append((m["in_scope_acc"], m["in_scope_wrong"], m["negative_wrong"], len(taught),
                                b["in_scope_acc"], b["in_scope_wrong"], b["negative_wrong"]))
            # what teaching is for, after the last step
            entries = {q.expect for q in taught}
            same = [(q, r, base_replies[questions.index(q)]) for q, r in zip(rest, replies, strict=True)
                    if q.kind in ev.IN_SCOPE and q.expect in entries]
            final.setdefault("same need", []).extend(ev.correct(q, r) for q, r, _ in same)
            final.setdefault("same need (untaught)", []).extend(ev.correct(q, b) for q, _, b in same)
            other = [(q, r, base_replies[questions.index(q)]) for q, r in zip(rest, replies, strict=True)
                     if q.kind in ev.IN_SCOPE and q.expect not in entries]
            final.setdefault("other needs", []).extend(ev.correct(q, r) for q, r, _ in other)
            final.setdefault("other needs (untaught)", []).extend(ev.correct(q, b) for q, _, b in other)
            final.setdefault("other wrong", []).extend(
                r.kind in ("faq", "knowledge") and not ev.correct(q, r) for q, r, _ in other)
            final.setdefault("other wrong (untaught)", []).extend(
                b.kind in ("faq", "knowledge") and not ev.correct(q, b) for q, _, b in other)
            for q in taught:
                for name, text in repeats(q).items():
                    final.setdefault(name, []).append(ev.correct(q, answer_all(assistant, [text])[0]))
                    final.setdefault(f"{name} (untaught)", []).append(ev.correct(q, untaught(text)))
    shutil.rmtree(base_dir, ignore_errors=True)
    table = [(k, *(mean([r[j] for r in rs]) for j in range(COLUMNS))) for k, rs in rows.items()]
    return table, {name: (mean(xs), len(xs) / seeds) for name, xs in final.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("set", nargs="?", default=str(ROOT.parent / "shared" / "eval" / "dev"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--policy", default="all",
                        help="all; accented:N (accented wordings of at most N words); short:N (any of at most N)")
    parser.add_argument("--teach", default="learned", choices=("alternate", "learned"))
    args = parser.parse_args()
    table, final = run(Path(args.set), args.seeds, args.policy, args.teach)
    print(f"teach: {args.teach}, policy: {args.policy}, {args.seeds} seed(s)\n")
    print("| reviewed questions | wordings taught | in-scope right on the rest (untaught) | "
          "confidently wrong (untaught) | negatives answered (untaught) |")
    print("|---|---|---|---|---|")
    for k, acc, wrong, neg, taught, b_acc, b_wrong, b_neg in table:
        print(f"| {k} | {taught:.0f} | {acc:.3f} ({b_acc:.3f}) | {wrong:.3f} ({b_wrong:.3f}) | "
              f"{neg:.3f} ({b_neg:.3f}) |")
    print("\nAfter the last step, answered right (untaught):\n")
    names = ("other needs", "other wrong", "same need", *REPEATS)
    print("| right, other needs | confidently wrong, other needs | right, same need | "
          + " | ".join(f"repeat: {n}" for n in REPEATS) + " |")
    print("|---|" + "---|" * (len(names) - 1))
    cells = [f"{final[n][0]:.3f} ({final[n + ' (untaught)'][0]:.3f})" if n in final else "-" for n in names]
    size = final.get("same need", (0.0, 0.0))[1], final.get("same", (0.0, 0.0))[1]
    print("| " + " | ".join(cells) + f" |\n\n(per seed: {size[0]:.0f} same-need questions, {size[1]:.0f} repeats)")


if __name__ == "__main__":
    main()

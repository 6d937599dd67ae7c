#!/usr/bin/env python3
"""Hygiene check of a generated dataset: the share of kept rows that are a clean text of the asked kind.

    python3 bench/hygiene.py OUT/dataset.jsonl --task TASK.toml [--examples SEEDS.jsonl] [--json FILE]
                             [--show 3] [--min-clean 0.95]

Written independently of genprompt's own cleaning (crates/genprompt-methods/src/clean.rs), so that it
judges the output rather than repeating the filter. A row fails when any of these rules fires; the rules
are deliberately conservative (a real customer message or tweet passes them):

  refusal        the model declines: "I'm sorry, but", "I cannot provide/generate/...", "as an AI",
                 "language model", "Unfortunately, I am unable"
  chatter        talk about the text instead of the text: opens with "Here is/Sure/Certainly/Of course/
                 Okay/Below is/The following/New message...", or says "I hope this helps", "Let me know if",
                 "Note:", "Explanation:", "This message inherits/maintains/is written"
  prompt_echo    the prompt's scaffolding: "Example 1", "Category:", "Relation:", "Text:", "Genotype:",
                 "inherits from", "synthetic data", "XML-style", "must be different from both examples"
  several_texts  more than one text: "Message 2:", "Tweet 1:", "Sentence 3." ... at a line start
  markdown       "**", "__", a "# " heading, a code fence, a table row, two or more bullet or numbered
                 list lines
  key_value      a key="value" pair, or two or more "Key: value" lines (an attribute dump)
  json           starts with "{" or "[", or holds a "key": pair
  placeholder    template holes and fillers: "[Your Name]", "{protein}", "[insert ...]", "lorem ipsum",
                 "quick brown fox"
  other_script   more than 10% of the letters outside the Latin script (every task here is English)
  too_short      fewer than 3 words (relation tasks: fewer than 3 words outside the entity tags, as in
                 genprompt's cleaning; the paper's gold ChemProt and DDI train rows all have 3 or more)
  entity_tags    relation tasks: not exactly the task's entity tags, each around a name (non-empty, at
                 most 8 words: the longest name in the paper's gold splits), or a
                 tag on a line with fewer than 3 words of its own (tags must sit in the sentence)
  near_copy      word-level similarity >= 0.85 (difflib ratio) to a parent, a shown example, or a
                 seed row of the same label (seed rows come from --examples or the task's [seeds].path)

Prints rows, clean share, each rule's count and a few failing rows per rule; `--json` writes the same
figures; `--min-clean X` exits 1 below that share (for scripts); `--ignore entity_tags,...` leaves rules
out (e.g. to judge data tagged under other conventions). Standard library only.
"""

import argparse
import difflib
import json
import re
import sys
import tomllib
from collections import Counter, defaultdict
from pathlib import Path

REFUSAL = re.compile(
    r"(^|\b)(i'?m sorry,? but|i am sorry,? but|i apologi[sz]e|as an ai\b|language model|"
    r"i (cannot|can ?not|can't|am unable to|'m unable to|won't) (provide|generate|create|write|produce|"
    r"fulfil|fulfill|comply|assist|help with (this|that|your request))|"
    r"unfortunately,? i('m| am)? (unable|cannot|can't|not able))",
    re.I,
)
CHATTER_OPENING = re.compile(
    r"^\W*(here is|here's|here are|sure\b|certainly|of course|okay\b|ok,|below is|the following|"
    r"new (customer|example|message|sentence|tweet|text)|generated (text|message|sentence)|output:|answer:|"
    r"response:|to generate\b|let's\b|we need to\b)",
    re.I,
)
CHATTER_ANYWHERE = re.compile(
    r"(i hope this (helps|meets|works|is)|let me know if|feel free to|^\s*note:|\bexplanation:|"
    r"this (message|tweet|sentence|text) (inherits|maintains|is written|keeps|uses|follows))",
    re.I | re.M,
)
PROMPT_ECHO = re.compile(
    r"(\bexample \d\b|\bcategory:|\brelation:|(^|\n)\s*text:|genotype:|inherit(s|ed)? (from|the)|"
    r"synthetic data|xml-style|different from both examples|\bgenes?:|write a new|treat these attributes|"
    r"should inherit)",
    re.I,
)
SEVERAL_TEXTS = re.compile(r"^[ \t]*(message|tweet|sentence|text|example|option|version|review)\s*#?\d+\s*[:.)]", re.I | re.M)
MARKDOWN = re.compile(r"(\*\*|__|^#{1,6}[ \t]|```|^[ \t]*\|.*\|[ \t]*$)", re.M)
LIST_LINE = re.compile(r"^[ \t]*([-*•]|\d+[.)])[ \t]+\S", re.M)
KEY_EQUALS = re.compile(r"\b\w+\s*=\s*[\"']")
KEY_COLON_LINE = re.compile(r"^[ \t]*[A-Za-z][\w ]{0,25}:[ \t]+\S", re.M)
JSON_PAIR = re.compile(r"\"\w[\w ]*\"\s*:")
PLACEHOLDER = re.compile(
    r"(\[(your|insert|customer|client|name|product|order|company|date|number|recipient)[^\]]{0,40}\]|"
    r"\[[^\]]{0,30}name\]|"
    r"<(your|insert)\b|\{[a-z_ ]{1,30}\}|lorem ipsum|quick brown fox)",
    re.I,
)
TAG = re.compile(r"</?[A-Za-z_][\w-]*>")
# Longest entity name, in words, of the paper's gold train splits (ChemProt, DDI, SemEval, CoNLL04).
MAX_ENTITY_WORDS = 8


def words(text):
    return re.findall(r"\w+", text.lower())


def other_script_share(text):
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if ord(c) > 0x24F) / len(letters)


def entity_tags_ok(text, tags):
    counts = Counter(tags)
    for tag, n in counts.items():
        opens = text.count(f"<{tag}>")
        closes = text.count(f"</{tag}>")
        if opens != n or closes != n:
            return False
        for inner in re.findall(rf"<{re.escape(tag)}>(.*?)</{re.escape(tag)}>", text, re.S):
            if not inner.strip() or "<" in inner or len(inner.split()) > MAX_ENTITY_WORDS:
                return False
    # The tags must sit in the sentence: a line that holds a tag needs words of its own (a sentence
    # followed by a line of bare tagged names fails).
    for line in text.splitlines():
        if TAG.search(line) and len(words(TAG.sub(" ", re.sub(r"<(\w+)>.*?</\1>", " ", line)))) < 3:
            return False
    return True


def similarity(a, b):
    return difflib.SequenceMatcher(None, words(a), words(b), autojunk=False).ratio()


def failures(text, task, relation_tags, near_texts):
    """Every rule that fires on `text`, by name."""
    fired = []
    if REFUSAL.search(text):
        fired.append("refusal")
    if CHATTER_OPENING.search(text) or CHATTER_ANYWHERE.search(text):
        fired.append("chatter")
    if PROMPT_ECHO.search(text):
        fired.append("prompt_echo")
    if SEVERAL_TEXTS.search(text):
        fired.append("several_texts")
    if MARKDOWN.search(text) or len(LIST_LINE.findall(text)) >= 2:
        fired.append("markdown")
    if KEY_EQUALS.search(text) or len(KEY_COLON_LINE.findall(text)) >= 2:
        fired.append("key_value")
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")) or JSON_PAIR.search(text):
        fired.append("json")
    if PLACEHOLDER.search(text):
        fired.append("placeholder")
    if other_script_share(text) > 0.10:
        fired.append("other_script")
    if relation_tags:
        if len(words(TAG.sub(" ", re.sub(r"<(\w+)>.*?</\1>", " ", text, flags=re.S)))) < 3:
            fired.append("too_short")
        if not entity_tags_ok(text, relation_tags):
            fired.append("entity_tags")
    elif len(words(text)) < 3:
        fired.append("too_short")
    if any(similarity(text, other) >= 0.85 for other in near_texts):
        fired.append("near_copy")
    return fired


def read_jsonl(path):
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset")
    parser.add_argument("--task", required=True)
    parser.add_argument("--examples", help="the seed file the run used (default: the task's [seeds].path)")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--show", type=int, default=3, help="failing rows shown per rule")
    parser.add_argument("--min-clean", type=float, help="exit 1 when the clean share is below this")
    parser.add_argument("--ignore", default="", help="comma-separated rules not to apply (e.g. entity_tags)")
    args = parser.parse_args()

    task_path = Path(args.task)
    task = tomllib.loads(task_path.read_text(encoding="utf-8"))
    relation_tags = task.get("relation", {}).get("tags")
    seeds_path = args.examples or (task.get("seeds", {}).get("path") and task_path.parent / task["seeds"]["path"])
    seed_rows = read_jsonl(seeds_path) if seeds_path else []
    seeds_by_id = {f"seed:{line}": row["text"] for line, row in enumerate(seed_rows, start=1)}
    per_label = task.get("seeds", {}).get("per_label")
    seeds_by_label = defaultdict(list)
    for row in seed_rows:
        if per_label is None or len(seeds_by_label[row["label"]]) < per_label:
            seeds_by_label[row["label"]].append(row["text"])

    rows = read_jsonl(args.dataset)
    by_id = {row.get("id"): row["text"] for row in rows}
    counts = Counter()
    shown = defaultdict(list)
    clean = 0
    for row in rows:
        lineage = row.get("lineage") or {}
        related = [*lineage.get("parents", []), *lineage.get("examples", [])]
        near = [seeds_by_id.get(i) or by_id.get(i) for i in related]
        near = [t for t in near if t] + seeds_by_label.get(row["label"], [])
        ignored = set(filter(None, args.ignore.split(",")))
        fired = [rule for rule in failures(row["text"], task, relation_tags, near) if rule not in ignored]
        if not fired:
            clean += 1
        for rule in fired:
            counts[rule] += 1
            if len(shown[rule]) < args.show:
                shown[rule].append(row["text"])

    n = len(rows)
    share = clean / n if n else 0.0
    print(f"{args.dataset}: {n} rows, {clean} clean ({100 * share:.1f}%)")
    for rule, count in counts.most_common():
        print(f"  {rule:<14} {count:>4}")
        for text in shown[rule]:
            print(f"      {json.dumps(text[:160], ensure_ascii=False)}")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"dataset": args.dataset, "rows": n, "clean": clean, "clean_share": share, "rules": counts}, indent=1)
        )
    if n == 0:
        print("no rows: nothing to judge", file=sys.stderr)
        return 1
    if args.min_clean is not None and share < args.min_clean:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

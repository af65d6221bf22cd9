"""Answer-quality metrics against reference answers: exact match, token F1, ANLS, citation accuracy.

Each text metric takes one prediction and one or more references and keeps the best score over the references.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Collection, Iterable

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """Lowercase, drop punctuation and the articles a/an/the, collapse whitespace (SQuAD style)."""
    text = text.lower().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _refs(references: str | Iterable[str]) -> list[str]:
    refs = [references] if isinstance(references, str) else list(references)
    if not refs:
        raise ValueError("no reference answer")
    return refs


def exact_match(prediction: str, references: str | Iterable[str]) -> float:
    """1.0 when the normalised prediction equals a normalised reference."""
    pred = normalize_answer(prediction)
    return max(1.0 if pred == normalize_answer(r) else 0.0 for r in _refs(references))


def _f1(pred_tokens: list[str], ref_tokens: list[str]) -> float:
    if not pred_tokens or not ref_tokens:
        return 1.0 if pred_tokens == ref_tokens else 0.0
    common = sum((Counter(pred_tokens) & Counter(ref_tokens)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred_tokens), common / len(ref_tokens)
    return 2 * precision * recall / (precision + recall)


def contains_answer(prediction: str, references: str | Iterable[str]) -> float:
    """1.0 when a normalised reference appears inside the normalised prediction (fits extractive answers)."""
    pred = f" {normalize_answer(prediction)} "
    return float(any(f" {normalize_answer(r)} " in pred for r in _refs(references) if normalize_answer(r)))


def token_f1(prediction: str, references: str | Iterable[str]) -> float:
    """Harmonic mean of token precision and recall after normalisation (bag of tokens)."""
    pred = normalize_answer(prediction).split()
    return max(_f1(pred, normalize_answer(r).split()) for r in _refs(references))


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions each cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        cur = [i]
        for j, cb in enumerate(b, start=1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def anls(prediction: str, references: str | Iterable[str], threshold: float = 0.5) -> float:
    """Average Normalised Levenshtein Similarity for one question (DocVQA): 1 - NL, or 0 when NL >= threshold.

    Strings are compared lowercased with surrounding and repeated whitespace removed.
    """
    pred = " ".join(prediction.lower().split())
    best = 0.0
    for ref in _refs(references):
        r = " ".join(ref.lower().split())
        longest = max(len(pred), len(r))
        nl = levenshtein(pred, r) / longest if longest else 0.0
        best = max(best, 1.0 - nl if nl < threshold else 0.0)
    return best


def citation_accuracy(cited: Iterable[tuple[str, int]], evidence: Collection[tuple[str, int]]) -> float | None:
    """Share of the distinct cited (doc, page) pairs that hold evidence; None when nothing is cited."""
    pages = set(cited)
    if not pages:
        return None
    ev = set(evidence)
    return sum(1 for p in pages if p in ev) / len(pages)

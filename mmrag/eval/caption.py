"""Whether a text-channel hit was matched through a caption rather than the element's own content."""

from __future__ import annotations

import re

from mmrag.elements import Element
from mmrag.eval.answer_metrics import normalize_answer

_CAPTION_START = re.compile(r"^\s*(fig(ure)?|table|tab|chart|graph|plot|exhibit)\.?\s*[\dIVXivx]+\b", re.IGNORECASE)


def _tokens(text: str) -> set[str]:
    return {t for t in normalize_answer(text).split() if len(t) > 2}


def matched_via_caption(element: Element, question: str) -> bool:
    """A caption text element ("Figure 3: ..." or meta role "caption"), or a figure/table whose caption matched.

    A figure/table counts as matched through its caption when it has one and either has no text of its own or its
    caption shares more words (3+ letters, normalised) with the question than its own text (OCR, table cells).
    """
    if element.kind == "text":
        return element.meta.get("role") == "caption" or bool(_CAPTION_START.match(element.text))
    if element.kind not in ("figure", "table") or not element.caption.strip():
        return False
    if not element.text.strip():
        return True
    q = _tokens(question)
    return len(q & _tokens(element.caption)) > len(q & _tokens(element.text))

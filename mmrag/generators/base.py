"""The Generator interface: question + fused hits (text and pixels) → an Answer with citations."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from mmrag.elements import Answer, Hit


class Generator(ABC):
    """Writes an answer from the question and the retrieved evidence.

    Each Hit carries its element (doc, page, kind, bbox, text, caption) and `pixels_path`, the PNG of its
    figure/table/page when it has one. The generator cites with `[doc p.N]` markers mapped to Citations.
    """

    name: str

    @abstractmethod
    def generate(self, question: str, hits: Sequence[Hit]) -> Answer:
        """Answer the question from these hits only."""

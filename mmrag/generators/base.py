"""The Generator interface: question + fused hits (text and pixels) → an Answer with citations."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mmrag.elements import Answer, Hit

if TYPE_CHECKING:
    from mmrag.generators.context import Context
    from mmrag.settings import GeneratorSettings


class Generator(ABC):
    """Writes an answer from the question and the retrieved evidence.

    Each Hit carries its element (doc, page, kind, bbox, text, caption) and `pixels_path`, the PNG of its
    figure/table/page when it has one. The generator cites with `[doc p.N]` markers mapped to Citations.
    """

    name: str

    @abstractmethod
    def generate(self, question: str, hits: Sequence[Hit]) -> Answer:
        """Answer the question from these hits only."""


class VisionGenerator(Generator):
    """A generator that shows the model pixels and fenced text within the budgets of the settings."""

    max_images: int
    max_context_chars: int
    image_max_side: int

    def build_context(self, hits: Sequence[Hit]) -> Context:
        from mmrag.generators.context import build_context

        return build_context(hits, max_context_chars=self.max_context_chars, max_images=self.max_images,
                             image_max_side=self.image_max_side)


def context_budget(settings: GeneratorSettings) -> dict[str, int]:
    """The budget keyword arguments a VisionGenerator takes from GeneratorSettings."""
    return {"max_images": settings.max_images, "max_context_chars": settings.max_context_chars,
            "max_new_tokens": settings.max_new_tokens, "image_max_side": settings.image_max_side}

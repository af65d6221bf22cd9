"""The Generator interface: question + fused hits (text and pixels) → an Answer with citations."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from mmrag.elements import Answer, Hit

if TYPE_CHECKING:
    from mmrag.generators.context import Context
    from mmrag.settings import GeneratorSettings

TokenCallback = Callable[[str], None]  # receives each piece of answer text as it is written


class Generator(ABC):
    """Writes an answer from the question and the retrieved evidence.

    Each Hit carries its element (doc, page, kind, bbox, text, caption) and `pixels_path`, the PNG of its
    figure/table/page when it has one. The generator cites with `[doc p.N]` markers mapped to Citations.
    """

    name: str
    streams: bool = False  # True when `stream` hands out the text piece by piece as the model writes it

    @abstractmethod
    def generate(self, question: str, hits: Sequence[Hit]) -> Answer:
        """Answer the question from these hits only."""

    def stream(self, question: str, hits: Sequence[Hit], on_token: TokenCallback) -> Answer:
        """Answer like `generate`, calling on_token with each piece of text as it is produced; returns the final Answer
        (the same Answer `generate` would give: text, citations, supported). Default: generate, then one on_token call
        with the whole text.

        The pieces join to the Answer's text. on_token runs in the caller's thread; an exception it raises (a client
        that went away) stops the generation and propagates.
        """
        answer = self.generate(question, hits)
        on_token(answer.text)
        return answer


class VisionGenerator(Generator):
    """A generator that shows the model pixels and fenced text within the budgets of the settings."""

    max_images: int
    max_context_chars: int
    image_max_side: int

    def build_context(self, hits: Sequence[Hit]) -> Context:
        from mmrag.generators.context import build_context

        return build_context(hits, max_context_chars=self.max_context_chars, max_images=self.max_images,
                             image_max_side=self.image_max_side)

    def build_answer(self, text: str, ctx: Context, hits: Sequence[Hit]) -> Answer:
        """The Answer for the model's reply `text`: the context markers it cites, and whether it is supported."""
        from mmrag.generators.context import is_supported

        citations = ctx.citations(text)
        return Answer(text, self.name, citations, list(hits), supported=is_supported(text, citations))


class StrippedTokens:
    """Passes text pieces on to `on_token` so that they join to the stripped text (as `str.strip` gives it).

    Leading whitespace is dropped, and whitespace is held back until more text follows it, so trailing whitespace
    is never sent; empty pieces are not sent.
    """

    def __init__(self, on_token: TokenCallback) -> None:
        self.on_token = on_token
        self.started = False
        self.pending = ""

    def __call__(self, piece: str) -> None:
        if not self.started:
            piece = piece.lstrip()
            self.started = bool(piece)
        text = self.pending + piece
        body = text.rstrip()
        self.pending = text[len(body) :]
        if body:
            self.on_token(body)


def context_budget(settings: GeneratorSettings) -> dict[str, int]:
    """The budget keyword arguments a VisionGenerator takes from GeneratorSettings."""
    return {"max_images": settings.max_images, "max_context_chars": settings.max_context_chars,
            "max_new_tokens": settings.max_new_tokens, "image_max_side": settings.image_max_side}

"""A LangChain retriever over mmrag's query pipeline."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict


class MMRagRetriever(BaseRetriever):
    """Fused mmrag hits as LangChain `Document`s.

    metadata carries doc, page, kind, bbox, element_id, score, channels and `image_path` (the pixels
    of the figure, table or page, for a multimodal chain).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    index: Any
    k: int = 5
    channel: str = "all"
    docs: list[str] | None = None
    kinds: list[str] | None = None

    @classmethod
    def from_path(cls, path: str, **kwargs: Any) -> MMRagRetriever:
        from mmrag.pipelines.index import open_index

        return cls(index=open_index(path, create=False, read_only=True), **kwargs)  # beside a writer too

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        hits = self.index.search(query, channel=self.channel, docs=self.docs, kinds=self.kinds, k=self.k)
        return [
            Document(
                page_content=h.element.searchable_text(),
                metadata={
                    "doc": h.element.doc, "page": h.element.page, "kind": h.element.kind,
                    "bbox": list(h.element.bbox), "element_id": h.element.id, "score": h.score,
                    "channels": h.channels, "image_path": h.pixels_path,
                },
            )
            for h in hits
        ]

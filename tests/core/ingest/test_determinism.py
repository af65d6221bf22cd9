"""Parsing is a function of the file and the settings: the same PDF parsed twice gives the same elements, byte for
byte (ids, text, pixels). Retrieval figures that move between two runs of one commit must come from elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmrag.ingest import parse_pdf
from mmrag.settings import IngestSettings

SAMPLE = Path(__file__).resolve().parents[3] / "sample_corpus"


@pytest.mark.parametrize("name", ["transit_ridership_2023.pdf"])
def test_the_same_pdf_parses_to_the_same_elements(name: str, store) -> None:
    path = SAMPLE / name
    first = parse_pdf(path, name, IngestSettings(), store)
    second = parse_pdf(path, name, IngestSettings(), store)
    assert first.elements, "nothing parsed"
    assert [e.to_dict() for e in first.elements] == [e.to_dict() for e in second.elements]

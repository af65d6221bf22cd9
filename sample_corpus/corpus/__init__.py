"""The sample corpus documents, one spec module each, in build order (which is also the order of the questions)."""

from __future__ import annotations

from . import coffee, finfet, solar, transit, trial

DOCS = [solar.DOC, trial.DOC, transit.DOC, finfet.DOC, coffee.DOC]

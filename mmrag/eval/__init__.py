"""Retrieval and answer-quality evaluation: metrics, question loading, the evaluator, reports and run comparison.

Works on rankings it is handed (a search function), so it may import mmrag.indexes (SearchFilter, channel
names) and the base modules (elements, settings, errors); never the pipelines.
"""

from __future__ import annotations

from mmrag.eval.compare import compare_runs, format_comparison
from mmrag.eval.evaluator import RetrievalEvaluator
from mmrag.eval.questions import Question, load_questions
from mmrag.eval.report import format_summary, write_report
from mmrag.eval.result import EvalResult, QuestionRecord

__all__ = [
    "EvalResult",
    "Question",
    "QuestionRecord",
    "RetrievalEvaluator",
    "compare_runs",
    "format_comparison",
    "format_summary",
    "load_questions",
    "write_report",
]

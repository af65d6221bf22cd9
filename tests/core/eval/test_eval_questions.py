from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmrag.eval.questions import BadQuestions, load_questions, parse_page_id


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    return path


def test_mmrag_jsonl(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "q.jsonl",
        [
            {
                "id": "q1",
                "question": "What?",
                "doc": "a.pdf",
                "pages": [3, 2, 3],
                "answer": "42",
                "evidence": ["Chart"],
                "elements": ["e1"],
            },
            {"id": "q2", "question": "Why?", "doc": "a.pdf", "pages": [], "answer": ["x", "y"]},
            {"id": 3, "question": "Who?", "doc": "b.pdf"},
        ],
    )
    q1, q2, q3 = load_questions(path)
    assert (q1.id, q1.doc, q1.pages, q1.answers, q1.evidence, q1.elements) == (
        "q1",
        "a.pdf",
        [2, 3],
        ["42"],
        ["Chart"],
        ["e1"],
    )
    assert q1.page_refs == [("a.pdf", 2), ("a.pdf", 3)]
    assert q1.answerable and q1.docs == ["a.pdf"]
    assert not q2.answerable and q2.answers == ["x", "y"] and q2.docs == ["a.pdf"]
    assert q3.id == "3" and not q3.answerable


@pytest.mark.parametrize(
    "row, message",
    [
        ({"question": "x", "doc": "a.pdf"}, "missing 'id'"),
        ({"id": "1", "question": "x", "doc": "a.pdf", "pages": [0]}, "1-based"),
        ({"id": "1", "question": "x", "doc": "a.pdf", "evidence": ["Photo"]}, "evidence"),
    ],
)
def test_bad_rows_name_the_line(tmp_path: Path, row: dict, message: str) -> None:
    path = _jsonl(tmp_path / "q.jsonl", [{"id": "0", "question": "ok", "doc": "a.pdf"}, row])
    with pytest.raises(BadQuestions, match=message) as exc:
        load_questions(path)
    assert "q.jsonl:2" in str(exc.value)


def test_duplicate_ids_and_bad_json(tmp_path: Path) -> None:
    row = {"id": "1", "question": "x", "doc": "a.pdf"}
    with pytest.raises(BadQuestions, match="duplicate"):
        load_questions(_jsonl(tmp_path / "d.jsonl", [row, row]))
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    with pytest.raises(BadQuestions, match="bad.jsonl:1"):
        load_questions(tmp_path / "bad.jsonl")


def test_parse_page_id_both_forms() -> None:
    assert parse_page_id("report.pdf#p3") == ("report.pdf", 3)
    assert parse_page_id("report.pdf_12") == ("report.pdf", 12)
    assert parse_page_id("my_file_2.pdf#p1") == ("my_file_2.pdf", 1)
    assert parse_page_id("my_file_2.pdf_7") == ("my_file_2.pdf", 7)
    with pytest.raises(ValueError):
        parse_page_id("report.pdf")


def _beir(root: Path) -> Path:
    root.mkdir()
    _jsonl(
        root / "queries.jsonl",
        [
            {"_id": "b1", "text": "first?"},
            {"_id": "b2", "text": "second?"},
            {"_id": "b3", "text": "none?"},
        ],
    )
    (root / "qrels").mkdir()
    (root / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n"
        "b1\ta.pdf#p2\t1\n"
        "b1\ta.pdf_4\t1\n"
        "b1\ta.pdf#p9\t0\n"
        "b2\tb.pdf_1\t2\n"
        "b2\tc.pdf#p5\t1\n"
        "b3\ta.pdf#p1\t0\n"
    )
    return root


def test_beir_dir_and_queries_file(tmp_path: Path) -> None:
    root = _beir(tmp_path / "beir")
    for path in (root, root / "queries.jsonl"):
        b1, b2, b3 = load_questions(path)
        assert (b1.question, b1.doc, b1.pages) == ("first?", "a.pdf", [2, 4])
        assert b1.page_refs == [("a.pdf", 2), ("a.pdf", 4)]  # score 0 is not relevant
        assert b2.page_refs == [("b.pdf", 1), ("c.pdf", 5)] and b2.docs == ["b.pdf", "c.pdf"]
        assert not b3.answerable


def test_beir_without_qrels(tmp_path: Path) -> None:
    _jsonl(tmp_path / "queries.jsonl", [{"_id": "b1", "text": "x"}])
    with pytest.raises(BadQuestions, match="qrels"):
        load_questions(tmp_path / "queries.jsonl")
    with pytest.raises(BadQuestions, match="no such file"):
        load_questions(tmp_path / "missing.jsonl")

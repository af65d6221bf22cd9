"""OCR engines behind one small protocol: RapidOCR (ONNX, bundled models) and the tesseract CLI."""

from __future__ import annotations

import csv
import io
import logging
import shutil
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from PIL import Image

log = logging.getLogger(__name__)

NO_OCR_MESSAGE = (
    "no OCR engine is available (pip install rapidocr-onnxruntime, or apt-get install tesseract-ocr): "
    "scanned pages and raster figures get no text"
)
_warned_no_ocr = False


@dataclass
class OCRLine:
    """One recognised line: its text, its box in image pixels (x0, y0, x1, y1) and a confidence in [0, 1]."""

    text: str
    bbox: tuple[float, float, float, float]
    confidence: float


class OCREngine(Protocol):
    name: str

    def read(self, image: Image.Image) -> list[OCRLine]: ...


class RapidOCREngine:
    """PP-OCRv4 through rapidocr-onnxruntime; the models ship inside the wheel."""

    name = "rapidocr"

    def __init__(self) -> None:
        from rapidocr_onnxruntime import RapidOCR

        # Its default scales every image up to a 736-px short side: small figure crops then cost 2x and
        # read worse ("BLOCKC-14" for "BLOCK C-14"). Capping the long side keeps crops as rendered.
        self._engine = RapidOCR(det_limit_side_len=1280, det_limit_type="max")

    def read(self, image: Image.Image) -> list[OCRLine]:
        import numpy as np

        result, _ = self._engine(np.asarray(image.convert("RGB")))
        lines = []
        for box, text, score in result or []:
            xs = [p[0] for p in box]
            ys = [p[1] for p in box]
            if text.strip():
                lines.append(OCRLine(text.strip(), (min(xs), min(ys), max(xs), max(ys)), float(score)))
        return lines


class TesseractEngine:
    """The tesseract command-line program, read through its TSV output (word level, joined into lines)."""

    name = "tesseract"

    def __init__(self, lang: str = "eng", binary: str | None = None) -> None:
        self.binary = binary or shutil.which("tesseract")
        if not self.binary:
            raise FileNotFoundError("tesseract is not on PATH")
        self.lang = lang

    def read(self, image: Image.Image) -> list[OCRLine]:
        buf = io.BytesIO()
        image.convert("RGB").save(buf, format="PNG")
        out = subprocess.run(
            [self.binary, "stdin", "stdout", "-l", self.lang, "tsv"],
            input=buf.getvalue(),
            capture_output=True,
            check=True,
            timeout=300,
        ).stdout.decode("utf-8", "replace")
        words: dict[tuple[str, str, str, str], list[tuple[str, float, float, float, float, float]]] = {}
        for row in csv.DictReader(io.StringIO(out), delimiter="\t", quoting=csv.QUOTE_NONE):
            text = (row.get("text") or "").strip()
            if row.get("level") != "5" or not text:
                continue
            x, y, w, h = (float(row[k]) for k in ("left", "top", "width", "height"))
            key = (row["page_num"], row["block_num"], row["par_num"], row["line_num"])
            words.setdefault(key, []).append((text, x, y, x + w, y + h, float(row["conf"]) / 100.0))
        lines = []
        for ws in words.values():
            lines.append(
                OCRLine(
                    " ".join(w[0] for w in ws),
                    (min(w[1] for w in ws), min(w[2] for w in ws), max(w[3] for w in ws), max(w[4] for w in ws)),
                    sum(w[5] for w in ws) / len(ws),
                )
            )
        return lines


_ENGINES: dict[str, type] = {"rapidocr": RapidOCREngine, "tesseract": TesseractEngine}


def load_ocr(name: str = "auto") -> OCREngine | None:
    """The named OCR engine, or for "auto" the first one available; None (with one logged warning) when none is.

    name: auto | rapidocr | tesseract | none.
    """
    global _warned_no_ocr
    if name == "none":
        return None
    names = list(_ENGINES) if name == "auto" else [name]
    if any(n not in _ENGINES for n in names):
        raise ValueError(f"unknown OCR engine {name!r}; choose one of auto, none, {', '.join(_ENGINES)}")
    for n in names:
        try:
            return _ENGINES[n]()
        except Exception as exc:  # an engine that cannot start is simply unavailable
            log.debug("OCR engine %s unavailable: %s", n, exc)
    if not _warned_no_ocr:
        log.warning(NO_OCR_MESSAGE)
        _warned_no_ocr = True
    return None

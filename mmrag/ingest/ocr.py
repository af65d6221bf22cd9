"""OCR engines behind one small protocol: RapidOCR (ONNX, bundled models) and the tesseract CLI."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import shutil
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from mmrag.ingest.clock import timed

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


class OCRCache(Protocol):
    """Where recognised lines are kept by pixel hash, across documents and runs (the element store's cache)."""

    def get(self, key: str) -> str | None: ...

    def put(self, key: str, value: str) -> None: ...


# OCR reads at most this many pixels: a larger image (a poster-sized page or crop) is scaled down first and the
# lines' boxes scaled back up. An A4 scan at 200 dpi is 3.9 MP; the detector itself works at 1,280 px anyway, and
# each copy of a 40 MP render (the largest max_render_pixels allows) costs a worker 120 MB.
OCR_MAX_PIXELS = 12_000_000


@timed("ocr")
def cached_read(
    engine: OCREngine, image: Image.Image, cache: OCRCache | None, max_pixels: int = OCR_MAX_PIXELS
) -> tuple[list[OCRLine], bool]:
    """engine.read(image) through the cache; returns the lines (boxes in the image's pixels) and whether the
    cache had them. An image over max_pixels is read scaled down to it (0: no limit)."""
    scale = 1.0
    if max_pixels and image.width * image.height > max_pixels:
        scale = (max_pixels / (image.width * image.height)) ** 0.5
        image = image.resize((max(1, int(image.width * scale)), max(1, int(image.height * scale))))
    lines, hit = _cached_read(engine, image, cache)
    if scale != 1.0:
        lines = [OCRLine(ln.text, tuple(v / scale for v in ln.bbox), ln.confidence) for ln in lines]  # type: ignore[misc]
    return lines, hit


def _cached_read(engine: OCREngine, image: Image.Image, cache: OCRCache | None) -> tuple[list[OCRLine], bool]:
    if cache is None:
        return engine.read(image), False
    rgb = image.convert("RGB")
    digest = hashlib.sha256(rgb.tobytes())
    digest.update(f"{rgb.width}x{rgb.height}".encode())
    key = f"ocr:{engine.name}:{digest.hexdigest()}"
    found = cache.get(key)
    if found is not None:
        return [OCRLine(t, tuple(b), c) for t, b, c in json.loads(found)], True  # type: ignore[arg-type]
    lines = engine.read(rgb)
    cache.put(key, json.dumps([[ln.text, list(ln.bbox), ln.confidence] for ln in lines]))
    return lines, False


EDGE_STEP = 48  # a grey-level jump this sharp between neighbours is a stroke of text or line art
MIN_EDGE_SHARE = 0.004  # below this share of sharp-edged pixels a picture holds no legible text


def worth_reading(image: Image.Image) -> bool:
    """A cheap gate before OCR: False for pictures without the sharp strokes text is made of (flat colour,
    gradients, soft photos), measured on a small greyscale copy."""
    import numpy as np

    grey = image.convert("L")
    if max(grey.size) > 512:
        grey.thumbnail((512, 512))
    a = np.asarray(grey, dtype=np.int16)
    if a.size == 0 or a.std() < 4:
        return False
    dx = np.abs(np.diff(a, axis=1)) >= EDGE_STEP
    dy = np.abs(np.diff(a, axis=0)) >= EDGE_STEP
    share = (dx.sum() + dy.sum()) / float(a.size)
    return bool(share >= MIN_EDGE_SHARE)


class RapidOCREngine:
    """PP-OCRv4 through rapidocr-onnxruntime; the models ship inside the wheel."""

    name = "rapidocr"

    def __init__(self) -> None:
        from rapidocr_onnxruntime import RapidOCR

        # Its default scales every image up to a 736-px short side: small figure crops then cost 2x and
        # read worse ("BLOCKC-14" for "BLOCK C-14"). Capping the long side keeps crops as rendered.
        # One thread per session: OCR runs in the worker processes, one per core, beside the encoder; more
        # threads only spin against them.
        self._engine = RapidOCR(det_limit_side_len=1280, det_limit_type="max", intra_op_num_threads=1,
                                inter_op_num_threads=1)

    def read(self, image: Image.Image) -> list[OCRLine]:
        import numpy as np

        # No angle classifier: text in PDF figures and scans is upright, and it ran once per detected line.
        result, _ = self._engine(np.asarray(image.convert("RGB")), use_cls=False)
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

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
from typing import TYPE_CHECKING, Any, Protocol

from mmrag.ingest.clock import stage, timed
from mmrag.ingest.heap import trim_heap
from mmrag.settings import IngestSettings

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
# lines' boxes scaled back up. RapidOCR scales anything longer than 2,000 px down to that side itself, so 4 MP
# (2,000 x 2,000) loses it nothing (tesseract still gets an A4 page at 200 dpi, 3.9 MP); each copy of a 40 MP
# render (the largest max_render_pixels allows) would cost a worker 120 MB, and OCR makes several (RGB, numpy, BGR).
OCR_MAX_PIXELS = 4_000_000
# RapidOCR's text detector runs at most this many pixels on the long side (the lines it finds are still read by
# the recogniser from the image at its own resolution). The detector's activations are what an OCR worker's peak
# is made of: measured on 2,667 x 1,500 slide scans, +400-560 MB at RapidOCR's own size (up to 2,000 px),
# +200-400 MB at 1,280 and +120-250 MB at 960.
OCR_DET_MAX_SIDE = 1280
# RapidOCR's recogniser runs its text lines 6 at a time, each padded to the widest line of its batch: its
# activations grow with the batch times that width. Measured on OWASP slides (a batch of 6 lines padded to
# 1,615-1,972 px): +400 MB at 6 a run, +180 MB at 1, and one line a run took 17 s where batches of 6 took 24 s.
OCR_REC_BATCH = 1
OCR_FREE_BEFORE_PIXELS = 1_000_000
# The detector runs on horizontal strips of at most this many rows of its input, stitched into one probability map
# (activations grow with the pixels run at once). Measured on a slide and a portrait page at 1,280 px: the whole
# input at once +313 MB (704 rows) and +439 MB (992 rows); a 320 x 1,280 strip +150 MB on its shape's first run and
# +66 MB after (benchmarks/bench_ocr_memory.py has the per-document figures).
OCR_DET_ROWS = 320
# Each strip's map is trusted from this many rows in from a seam between strips (the detector sees that much
# context across it); rows must be a multiple of 32 (the detector's stride), and overlap well under half of them.
DET_STRIP_OVERLAP = 48


@dataclass
class OCRLimits:
    """What one OCR read may cost in memory (IngestSettings.ocr_max_pixels, ocr_det_max_side, ocr_trim_heap)."""

    max_pixels: int = OCR_MAX_PIXELS  # images over this are read scaled down to it; 0: no limit
    det_max_side: int = OCR_DET_MAX_SIDE  # RapidOCR's detector input, long side in px; 0: RapidOCR's own choice
    # After each read, hand the C heap's free pages back to the system: onnxruntime frees the detector's
    # activations, but glibc keeps them, so without this a worker stays at the high-water mark of its largest image
    # until the document ends (measured: 760 MB held between reads, 288 MB with it).
    trim_heap: bool = True
    # Text lines RapidOCR's recogniser runs at once; each is still padded to the width of the batch of 6 RapidOCR
    # forms, so the text read is the same. 0: RapidOCR's own batch (6 lines a run).
    rec_batch: int = OCR_REC_BATCH
    # Before reading an image of at least this many pixels, MuPDF's store of decoded images is emptied and the heap
    # trimmed, so the detector's activations reuse that memory instead of adding to it (0: never). Measured on
    # slide decks (2,667 x 1,500 pictures): a worker's peak 643 -> 498 MB, 3-5% more parse time; small reads are
    # left alone (a deck of 240 x 132 icons paid 9%).
    free_before_pixels: int = OCR_FREE_BEFORE_PIXELS
    # The detector runs on strips of at most this many rows of its input, stitched into one map (0: all at once).
    det_rows: int = OCR_DET_ROWS

    @classmethod
    def from_settings(cls, settings: IngestSettings) -> OCRLimits:
        return cls(settings.ocr_max_pixels, settings.ocr_det_max_side, settings.ocr_trim_heap,
                   settings.ocr_rec_batch, settings.ocr_free_before_pixels, settings.ocr_det_rows)


# The limits OCR in this process reads under: the defaults, until a worker sets those of its task's settings.
LIMITS = OCRLimits()


def set_limits(limits: OCRLimits) -> None:
    """The OCR limits for this process from now on (workers call this with each task's settings)."""
    global LIMITS
    LIMITS = limits


@timed("ocr")
def cached_read(
    engine: OCREngine, image: Image.Image, cache: OCRCache | None, max_pixels: int | None = None
) -> tuple[list[OCRLine], bool]:
    """engine.read(image) through the cache; returns the lines (boxes in the image's pixels) and whether the
    cache had them. An image over max_pixels (default: LIMITS.max_pixels) is read scaled down to it (0: no limit).
    With LIMITS.trim_heap, the heap the read freed goes back to the system before the next one."""
    if max_pixels is None:
        max_pixels = LIMITS.max_pixels
    scale = 1.0
    if max_pixels and image.width * image.height > max_pixels:
        scale = (max_pixels / (image.width * image.height)) ** 0.5
        image = image.resize((max(1, int(image.width * scale)), max(1, int(image.height * scale))))
    try:
        lines, hit = _cached_read(engine, image, cache)
    finally:
        del image
        if LIMITS.trim_heap:
            trim_heap()
    if scale != 1.0:
        lines = [OCRLine(ln.text, tuple(v / scale for v in ln.bbox), ln.confidence) for ln in lines]  # type: ignore[misc]
    return lines, hit


class ReadSlots:
    """OCR reads that may run at once across processes: an advisory lock (flock) on one of n files per read, which
    the kernel lets go of when the process holding it dies (a worker killed mid-read frees its slot)."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        self._fds: list[int] = []
        self._held = -1

    def __getstate__(self) -> dict[str, Any]:
        return {"paths": self.paths}  # a process opens its own files: each open file locks apart

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["paths"])  # type: ignore[misc]

    def acquire(self) -> None:
        import fcntl
        import os
        import time

        if not self._fds:
            self._fds = [os.open(p, os.O_RDWR | os.O_CREAT, 0o600) for p in self.paths]
        if len(self._fds) == 1:
            fcntl.flock(self._fds[0], fcntl.LOCK_EX)
            self._held = self._fds[0]
            return
        while True:
            for fd in self._fds:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue
                self._held = fd
                return
            time.sleep(0.01)

    def release(self) -> None:
        import fcntl

        if self._held >= 0:
            fcntl.flock(self._held, fcntl.LOCK_UN)
            self._held = -1


# Parse workers take turns at OCR (set_read_slots, with the slots a pool's workers share): a read's model
# activations are a worker's peak, so the workers' peaks do not add up. None: reads never wait.
_SLOTS: ReadSlots | None = None


def set_read_slots(slots: ReadSlots | None) -> None:
    """The slots OCR reads in this process take turns at (None: reads never wait)."""
    global _SLOTS
    _SLOTS = slots


def _read(engine: OCREngine, image: Image.Image) -> list[OCRLine]:
    """engine.read(image) holding a read slot, if any; the heap it freed goes back before the slot does."""
    if LIMITS.free_before_pixels and image.width * image.height >= LIMITS.free_before_pixels:
        free_decoded_images()
    slots = _SLOTS
    if slots is None:
        return engine.read(image)
    with stage("ocr wait"):
        slots.acquire()
    try:
        return engine.read(image)
    finally:
        if LIMITS.trim_heap:
            trim_heap()
        slots.release()


def shrink_decoded_images(percent: int) -> None:
    """Free this share of MuPDF's store of decoded images and fonts, when PyMuPDF is loaded (PyMuPDF can neither
    read nor cap the store's size)."""
    import sys

    pymupdf = sys.modules.get("pymupdf")
    if pymupdf is not None and percent > 0:
        pymupdf.TOOLS.store_shrink(percent)


def free_decoded_images() -> None:
    """Empty MuPDF's store of decoded images and fonts and hand the freed heap back to the system: before a large
    OCR read, and by parse workers after each document (`release_memory`)."""
    shrink_decoded_images(100)
    trim_heap()


def _cached_read(engine: OCREngine, image: Image.Image, cache: OCRCache | None) -> tuple[list[OCRLine], bool]:
    if cache is None:
        return _read(engine, image), False
    rgb = image.convert("RGB")
    digest = hashlib.sha256(rgb.tobytes())
    digest.update(f"{rgb.width}x{rgb.height}".encode())
    key = f"ocr:{engine.name}:{digest.hexdigest()}"
    found = cache.get(key)
    if found is not None:
        return [OCRLine(t, tuple(b), c) for t, b, c in json.loads(found)], True  # type: ignore[arg-type]
    lines = _read(engine, rgb)
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
        # threads only spin against them. (RapidOCR already turns onnxruntime's CPU memory arena off.)
        self._engine = RapidOCR(det_limit_side_len=OCR_DET_MAX_SIDE, det_limit_type="max", intra_op_num_threads=1,
                                inter_op_num_threads=1)
        # With limit_type "max", RapidOCR 1.4 ignores det_limit_side_len and picks 960, 1,500 or 2,000 px by the
        # image's size: the detector ran 2,000-px inputs. Its preprocessing is chosen per image here instead.
        det = self._engine.text_det
        self._own_preprocess = det.get_preprocess
        det.get_preprocess = self._det_preprocess
        det.infer = _Strips(det.infer)
        rec = self._engine.text_rec
        rec.session = _Batches(rec.session)

    def _det_preprocess(self, max_wh: int) -> object:
        """The detector's resize and normalisation for an image whose long side is max_wh: down to
        LIMITS.det_max_side (never up), or RapidOCR's own choice where that is 0."""
        side = LIMITS.det_max_side
        if side <= 0:
            side = self._own_preprocess(max_wh).limit_side_len  # type: ignore[attr-defined]
        det = self._engine.text_det
        return _DetInput(side, det.mean, det.std)

    def read(self, image: Image.Image) -> list[OCRLine]:
        import numpy as np

        # No angle classifier: text in PDF figures and scans is upright, and it ran once per detected line.
        pixels = np.asarray(image.convert("RGB"))
        result, _ = self._engine(pixels, use_cls=False)
        del pixels
        lines = []
        for box, text, score in result or []:
            xs = [p[0] for p in box]
            ys = [p[1] for p in box]
            if text.strip():
                lines.append(OCRLine(text.strip(), (min(xs), min(ys), max(xs), max(ys)), float(score)))
        return lines


class _DetInput:
    """RapidOCR's detector preprocessing (long side down to `side`, both sides multiples of 32, normalised, CHW),
    computed in float32 one channel at a time: RapidOCR's own goes through float64 copies of the whole image,
    measured at +65 MB for a 1,280 x 704 input, as much as the detector's own activations then."""

    def __init__(self, side: int, mean: Any, std: Any) -> None:
        from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess

        self._theirs = DetPreProcess(side, "max", mean, std)  # its resize, and its mean and std (defaults filled in)

    def __call__(self, image: Any) -> Any:
        import numpy as np

        theirs = self._theirs
        resized = theirs.resize(image)
        if resized is None:
            return None
        height, width = resized.shape[:2]
        out = np.empty((1, 3, height, width), np.float32)
        for c in range(3):
            channel = out[0, c]
            np.multiply(resized[:, :, c], np.float32(1 / (255.0 * theirs.std[c])), out=channel, casting="unsafe")
            channel -= np.float32(theirs.mean[c] / theirs.std[c])
        return out


class _Strips:
    """RapidOCR's detector session, run on horizontal strips of LIMITS.det_rows rows that overlap by
    DET_STRIP_OVERLAP; each strip's probability map is kept from DET_STRIP_OVERLAP rows in from a seam, so the map
    is the whole image's but for the context the detector would have seen beyond that.

    Strips of images wider than half the detector's widest input have one shape, det_rows x that width (narrower
    ones are padded with their edge pixels): onnxruntime plans a shape's memory on its first run and reuses the plan
    after (measured: +150 MB for a 320 x 1,280 input the session had not seen, +66 MB for one it had)."""

    def __init__(self, session: Any) -> None:
        self._session = session

    def __call__(self, image: Any) -> list[Any]:
        try:
            return self._run(image)
        finally:
            if LIMITS.trim_heap:  # what the detector freed goes back before the recogniser starts (-130 MB after a
                trim_heap()  # shape's first run, which leaves its working memory freed but held)

    def _run(self, image: Any) -> list[Any]:
        import numpy as np

        rows, overlap = LIMITS.det_rows, DET_STRIP_OVERLAP
        _, channels, height, width = image.shape
        if rows <= 0 or max(height, width) <= rows:
            return self._session(image)
        rows = max(4 * overlap, rows // 32 * 32)
        # Narrow images keep their own width: padding a column of text to 1,280 px would cost more time than a
        # shape's first run costs memory at that width.
        widest = LIMITS.det_max_side // 32 * 32
        strip_width = widest if widest // 2 < width <= widest else width
        buffer = np.empty((1, channels, rows, strip_width), image.dtype)
        stitched = None
        top = 0
        while True:
            top = max(0, min(top, height - rows))
            last = top + rows >= height
            taken = min(rows, height - top)
            buffer[:, :, :taken, :width] = image[:, :, top : top + taken]
            buffer[:, :, :taken, width:] = buffer[:, :, :taken, width - 1 : width]
            buffer[:, :, taken:] = buffer[:, :, taken - 1 : taken]
            strip = self._session(buffer)[0]
            if stitched is None:
                stitched = np.empty((*strip.shape[:2], height, width), strip.dtype)
            first_row = 0 if top == 0 else overlap
            end_row = taken if last else rows - overlap
            stitched[:, :, top + first_row : top + end_row] = strip[:, :, first_row:end_row, :width]
            if last:
                return [stitched]
            top += rows - 2 * overlap

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


class _Decoded:
    """What RapidOCR's CTC decoder reads of the recogniser's output (per line and step: the best class and its
    probability), in place of the output itself: `argmax(axis=2)` and `max(axis=2)` return them."""

    def __init__(self, best: Any, prob: Any) -> None:
        self.best, self.prob = best, prob

    def argmax(self, axis: int) -> Any:
        assert axis == 2
        return self.best

    def max(self, axis: int) -> Any:
        assert axis == 2
        return self.prob


class _Batches:
    """RapidOCR's recogniser session, run on LIMITS.rec_batch lines of each batch at a time (the same padded
    inputs, so the same outputs; the activations of fewer lines at once).

    Each run's output is reduced to what the CTC decoder reads (`_Decoded`) as soon as it comes: the output holds a
    probability for each of the model's 6,625 characters at every step, 6.5 MB for one 1,975-px line, and a batch's
    outputs joined together held 40-80 MB at once on slide pages (OWASP deck: +94 MB over the read's start)."""

    def __init__(self, session: Any) -> None:
        self._session = session

    def __call__(self, batch: Any) -> list[Any]:
        import numpy as np

        if not len(batch):
            return self._session(batch)
        step = LIMITS.rec_batch if LIMITS.rec_batch > 0 else len(batch)
        try:
            best, prob = [], []
            for i in range(0, len(batch), step):
                out = self._session(batch[i : i + step])[0]
                best.append(out.argmax(axis=2))
                prob.append(out.max(axis=2))
                del out
            return [_Decoded(np.concatenate(best), np.concatenate(prob))]
        finally:
            if LIMITS.trim_heap:  # each of RapidOCR's batches has a padded width of its own: what a width's first
                trim_heap()  # run leaves freed but held goes back before the next (slide pages: -13 to -20 MB)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


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

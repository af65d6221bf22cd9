"""What one OCR read may cost a worker: the detector's input side, the pixel cap and the heap handed back after a
read come from IngestSettings (mmrag.ingest.ocr.OCRLimits), and a worker reads under its task's settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from factories import RecordingOCR
from PIL import Image

from mmrag.ingest import ocr
from mmrag.ingest.ocr import OCRLimits, cached_read, set_limits
from mmrag.pipelines.workers import parse_document
from mmrag.settings import IngestSettings

SAMPLE = Path(__file__).resolve().parents[3] / "sample_corpus"


@pytest.fixture(autouse=True)
def _restore_limits():
    before = ocr.LIMITS
    yield
    set_limits(before)


def test_the_limits_default_to_the_settings_defaults_and_follow_them() -> None:
    assert OCRLimits.from_settings(IngestSettings()) == OCRLimits()
    limits = OCRLimits.from_settings(IngestSettings(ocr_max_pixels=0, ocr_det_max_side=640, ocr_trim_heap=False))
    assert limits == OCRLimits(max_pixels=0, det_max_side=640, trim_heap=False)


def test_the_pixel_cap_comes_from_the_limits_in_force() -> None:
    engine = RecordingOCR()
    set_limits(OCRLimits(max_pixels=1_000_000))
    cached_read(engine, Image.new("RGB", (2000, 1000), "white"), None)
    set_limits(OCRLimits(max_pixels=0))
    cached_read(engine, Image.new("RGB", (2000, 1000), "white"), None)
    (w, h), full = engine.sizes
    assert w * h <= 1_000_000 and full == (2000, 1000)


def test_the_heap_is_handed_back_after_each_read_only_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    trims: list[int] = []
    monkeypatch.setattr(ocr, "trim_heap", lambda: trims.append(1) or True)
    engine = RecordingOCR()
    set_limits(OCRLimits(trim_heap=True))
    cached_read(engine, Image.new("RGB", (64, 32), "white"), None)
    cached_read(engine, Image.new("RGB", (64, 32), "white"), None)
    set_limits(OCRLimits(trim_heap=False))
    cached_read(engine, Image.new("RGB", (64, 32), "white"), None)
    assert len(trims) == 2


def test_a_parse_reads_under_its_settings_limits() -> None:
    settings = IngestSettings(ocr="none", ocr_det_max_side=640, ocr_max_pixels=2_000_000)
    parse_document(SAMPLE / "solar_outlook_2024.pdf", settings)
    assert ocr.LIMITS == OCRLimits(max_pixels=2_000_000, det_max_side=640, trim_heap=True)


def test_rapidocr_detects_on_an_image_no_longer_than_det_max_side() -> None:
    """RapidOCR 1.4 ignores det_limit_side_len with limit_type "max" (it picks up to 2,000 px by itself): the
    engine must bring the detector's input down to the limit, while RapidOCR's own choice stays reachable (0)."""
    pytest.importorskip("rapidocr_onnxruntime")
    engine = ocr.RapidOCREngine()
    det = engine._engine.text_det
    shapes: list[tuple[int, ...]] = []
    run = det.infer.__call__

    def infer(x):  # noqa: ANN001, ANN202 - the detector's onnxruntime session, recording its input
        shapes.append(tuple(x.shape))
        return run(x)

    det.infer = infer
    image = Image.new("RGB", (1920, 960), "white")
    set_limits(OCRLimits(det_max_side=640))
    engine.read(image)
    set_limits(OCRLimits(det_max_side=0))
    engine.read(image)
    (limited, own) = shapes
    assert max(limited[2:]) == 640
    assert max(own[2:]) > 1280  # what the limit saves: RapidOCR alone runs the detector at 1,920 px here


def test_trim_heap_runs_where_there_is_glibc() -> None:
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        pytest.skip("malloc_trim is glibc's")
    assert ocr.trim_heap() is True


def test_the_limits_carry_the_recogniser_batch_and_the_store_threshold() -> None:
    limits = OCRLimits.from_settings(IngestSettings(ocr_rec_batch=0, ocr_free_before_pixels=0))
    assert (limits.rec_batch, limits.free_before_pixels) == (0, 0)


def test_rapidocr_reads_the_same_lines_one_at_a_time() -> None:
    """ocr_rec_batch=1 runs the recogniser on one line of each of RapidOCR's batches at a time, padded as in the
    batch: the same text and scores as RapidOCR's batches of 6."""
    pytest.importorskip("rapidocr_onnxruntime")
    from PIL import ImageDraw

    image = Image.new("RGB", (900, 420), "white")
    draw = ImageDraw.Draw(image)
    for i in range(8):
        draw.text((20 + 9 * i, 12 + 50 * i), f"Line {i}: regional solar output " + "x" * (4 * i), fill="black")
    engine = ocr.RapidOCREngine()
    calls: list[int] = []
    session = engine._engine.text_rec.session._session
    engine._engine.text_rec.session._session = lambda x: calls.append(len(x)) or session(x)
    read = {}
    for batch in (0, 1):
        set_limits(OCRLimits(rec_batch=batch))
        read[batch] = [(ln.text, round(ln.confidence, 5)) for ln in engine.read(image)]
    assert read[0] == read[1] and len(read[0]) >= 6
    assert max(calls) > 1 and calls.count(1) >= len(read[1])


def test_the_recogniser_hands_back_only_what_the_decoder_reads() -> None:
    """Each recogniser run is reduced to the best character and its probability per step as it comes: the same
    text and scores as RapidOCR decoding the whole output, which is never held."""
    pytest.importorskip("rapidocr_onnxruntime")
    from PIL import ImageDraw

    image = Image.new("RGB", (1400, 300), "white")
    draw = ImageDraw.Draw(image)
    for i in range(5):
        draw.text((20, 15 + 55 * i), f"Row {i}: the cooling tower output " + "m" * (12 * i), fill="black")
    engine = ocr.RapidOCREngine()
    rec = engine._engine.text_rec
    wrapped = rec.session
    outputs: list[object] = []
    reads = {}
    try:
        for batch in (0, 1):
            set_limits(OCRLimits(rec_batch=batch))
            reads[batch] = [(ln.text, round(ln.confidence, 6)) for ln in engine.read(image)]
        rec.session = wrapped._session  # RapidOCR's own session: whole outputs, decoded by RapidOCR
        original = rec.session
        rec.session = lambda x: outputs.append(original(x)[0]) or [outputs[-1]]
        reads["rapidocr"] = [(ln.text, round(ln.confidence, 6)) for ln in engine.read(image)]
    finally:
        rec.session = wrapped
        set_limits(OCRLimits())
    assert reads[0] == reads[1] == reads["rapidocr"] and len(reads[0]) >= 4
    assert any("cooling" in text for text, _ in reads[0])
    assert all(o.ndim == 3 and o.shape[2] > 1000 for o in outputs)  # a probability per character: not kept by us


def test_a_read_slot_held_by_a_process_that_died_is_free_again(tmp_path: Path) -> None:
    import multiprocessing as mp
    import os

    slots = ocr.ReadSlots([str(tmp_path / "0")])

    def hold_and_die(s: ocr.ReadSlots) -> None:
        s.acquire()
        os._exit(0)  # never released

    proc = mp.get_context("fork").Process(target=hold_and_die, args=(slots,))
    proc.start()
    proc.join(10)
    mine = ocr.ReadSlots([str(tmp_path / "0")])
    mine.acquire()  # would block forever if the dead process still held it
    mine.release()


def test_a_large_read_empties_the_store_first(monkeypatch: pytest.MonkeyPatch) -> None:
    freed: list[int] = []
    monkeypatch.setattr(ocr, "free_decoded_images", lambda: freed.append(1))
    engine = RecordingOCR()
    set_limits(OCRLimits(free_before_pixels=1_000_000))
    cached_read(engine, Image.new("RGB", (100, 100), "white"), None)
    cached_read(engine, Image.new("RGB", (1000, 1000), "white"), None)
    assert freed == [1]


@pytest.mark.parametrize("height", [96, 320, 352, 704, 1000])
@pytest.mark.parametrize("width", [160, 800, 1280])
def test_detector_strips_stitch_back_every_row_of_the_map(height: int, width: int) -> None:
    """A session whose map is its input's first channel: the stitched map must be the whole input's, row for row,
    whatever the image's height against the strips', and the strips of images wider than half det_max_side must
    have the one shape the session has already planned for (det_rows x det_max_side)."""
    import numpy as np

    shapes: list[tuple[int, ...]] = []

    def session(x):  # noqa: ANN001, ANN202
        shapes.append(tuple(x.shape))
        return [x[:, :1].copy()]

    set_limits(OCRLimits(det_rows=320, det_max_side=1280))
    image = np.random.default_rng(height).random((1, 3, height, width), dtype=np.float32)
    (stitched,) = ocr._Strips(session)(image)
    assert stitched.shape == (1, 1, height, width)
    assert np.array_equal(stitched, image[:, :1])
    if max(height, width) > 320:
        assert set(shapes) == {(1, 3, 320, 1280 if width > 640 else width)}
        assert len(shapes) == max(1, -(-(height - 320) // (320 - 2 * ocr.DET_STRIP_OVERLAP)) + 1)
    else:
        assert shapes == [image.shape]
    set_limits(OCRLimits(det_rows=0))
    shapes.clear()
    ocr._Strips(session)(image)
    assert shapes == [image.shape]


def test_the_detector_input_is_rapidocrs_in_float32() -> None:
    pytest.importorskip("rapidocr_onnxruntime")
    import numpy as np
    from rapidocr_onnxruntime.ch_ppocr_det.utils import DetPreProcess

    image = np.random.default_rng(0).integers(0, 256, (700, 1900, 3), dtype=np.uint8)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    theirs = DetPreProcess(1280, "max", mean, std)(image)
    ours = ocr._DetInput(1280, mean, std)(image)
    assert ours.dtype == np.float32 and ours.shape == theirs.shape == (1, 3, 480, 1280)
    assert np.allclose(ours, theirs, atol=1e-5)


def test_rapidocr_reads_the_same_lines_through_detector_strips() -> None:
    """Strips of 320 rows against the whole 1,280 x 960 input at once: the same lines of clear printed text."""
    pytest.importorskip("rapidocr_onnxruntime")
    from PIL import ImageDraw, ImageFont

    image = Image.new("RGB", (1600, 1200), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=36)
    for i in range(14):
        draw.text((40, 30 + 82 * i), f"Row {i}: regional solar output rose {10 + i} percent", fill="black", font=font)
    engine = ocr.RapidOCREngine()
    read = {}
    for rows in (0, 320):
        set_limits(OCRLimits(det_rows=rows))
        read[rows] = [ln.text.replace(" ", "") for ln in engine.read(image)]
    assert len(read[0]) == 14
    assert read[320] == read[0]

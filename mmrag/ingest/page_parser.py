"""DocumentParser: the elements of one page — page render, figures, tables, captions, text chunks, OCR — with
the state shared across a document's pages (section in force, previous table for continuations, OCR engine, ids).
`parse_pdf` / `stream_pdf` (mmrag.ingest.parse) drive it page by page."""

from __future__ import annotations

from dataclasses import dataclass

import pymupdf

from mmrag.elements import Element, element_id
from mmrag.ingest import figures as fig
from mmrag.ingest.blocks import Block, Line, Rect4, mark_headings
from mmrag.ingest.captions import Caption, find_captions, link_captions
from mmrag.ingest.chunks import chunk_blocks
from mmrag.ingest.document import ParsedDocument, PutPixels
from mmrag.ingest.figure_text import FigureContext, chart_labels, figure_context, figure_text
from mmrag.ingest.layout import layout_regions
from mmrag.ingest.ocr import NO_OCR_MESSAGE, OCRCache, OCREngine, cached_read, load_ocr, worth_reading
from mmrag.ingest.order import reading_order
from mmrag.ingest.render import RENDER_RETRIES, PageRenderer, RenderError, without_large_images
from mmrag.ingest.scan import is_scanned, ocr_dpi, ocr_page
from mmrag.ingest.sections import SectionTracker, document_title, read_outline
from mmrag.ingest.tables import FoundTable, find_tables, has_ruling
from mmrag.settings import IngestSettings

PAGE_BACKGROUND = 0.8  # an image covering this much of the page is a background or scan, not a figure
_engines: dict[str, OCREngine | None] = {}  # one engine per name and process


@dataclass
class _Figure:
    bbox: Rect4
    figure_type: str  # raster | vector
    native_dpi: float = 0.0  # resolution of the embedded image(s) at their placed size; 0 for vector


class DocumentParser:
    """State shared across the pages of one document: section in force, previous table, OCR engine, ids."""

    def __init__(
        self, pdf: pymupdf.Document, result: ParsedDocument, settings: IngestSettings, put_pixels: PutPixels,
        ocr: OCREngine | None, ocr_cache: OCRCache | None = None,
    ) -> None:
        self.pdf = pdf
        self.result = result
        self.settings = settings
        self.put_pixels = put_pixels
        self.ocr_cache = ocr_cache
        self.ocr_stats = {"read": 0, "cached": 0, "gated": 0}
        self._ocr = ocr
        self._ocr_loaded = ocr is not None or settings.ocr == "none"
        self.sections = SectionTracker(read_outline(pdf))  # the section path in force, across pages
        self.title = document_title(pdf, result.doc)
        self.decorations = fig.repeated_images(pdf)  # logos and template art on most pages: never figures
        self.last_table: tuple[int, str, list[str]] | None = None  # page, element id, header
        self.ids: set[str] = set()
        self.scans_without_ocr: list[int] = []
        self.render_failures: list[str] = []  # the page being parsed: renders MuPDF refused besides its own

    @property
    def section(self) -> str:
        """The heading in force."""
        return self.sections.section

    # -- helpers -------------------------------------------------------------------------------------------------
    def engine(self) -> OCREngine | None:
        if not self._ocr_loaded:
            self._ocr_loaded = True
            name = self.settings.ocr
            if name not in _engines:
                _engines[name] = load_ocr(name)
            self._ocr = _engines[name]
            if self._ocr is None:
                self.result.warnings.append(NO_OCR_MESSAGE)
        return self._ocr

    def element(self, page: int, kind: str, bbox: Rect4, **kwargs: object) -> Element:
        bbox = tuple(round(float(v), 2) for v in bbox)
        # The document's name is in the id as well as its content: a byte-identical copy under another name is a
        # document of its own, whose elements must not overwrite the first one's rows and vectors.
        doc = self.result.doc
        eid = element_id(self.result.sha256, page, kind, bbox, salt=doc)
        n = 0
        while eid in self.ids:  # two chunks on one box: disambiguate deterministically
            n += 1
            eid = element_id(self.result.sha256, page, kind, bbox, salt=f"{doc}|{n}")
        self.ids.add(eid)
        el = Element(id=eid, doc=self.result.doc, doc_sha256=self.result.sha256, page=page, kind=kind, bbox=bbox,
                     **kwargs)
        self.result.elements.append(el)
        return el

    # -- one page ------------------------------------------------------------------------------------------------
    def parse_page(self, pno: int, blocks: list[Block], raw_blocks: list[Block], body_size: float) -> None:
        """raw_blocks: the page's blocks with running headers and footers, for the page element's text."""
        s = self.settings
        page = self.pdf[pno]
        pnum = pno + 1
        self.render_failures = []
        first_new = len(self.result.elements)
        rect: Rect4 = tuple(page.rect)
        try:
            image_info = page.get_image_info()  # xrefs=True costs up to 1 s a slide
        except Exception as exc:  # MuPDF refuses some images outright ("Overly large image"): keep the page
            image_info = []
            self.result.warnings.append(f"page {pnum}: embedded images skipped: {exc}")
        images = [im for im in fig.page_images(image_info, rect) if (im.width, im.height) not in self.decorations]
        huge = [im for im in images if im.pixels > s.max_image_pixels]
        render_page = page
        if huge:
            self.result.warnings.append(
                f"page {pnum}: skipped {len(huge)} embedded image(s) over max_image_pixels={s.max_image_pixels} "
                f"({', '.join(str(im.pixels) for im in huge)} pixels)"
            )
            images = [im for im in images if im.pixels <= s.max_image_pixels]
            render_page = without_large_images(self.pdf, pno, s.max_image_pixels)
        renderer = PageRenderer(render_page, s.max_render_pixels)

        text_chars = sum(len(ln.text) for b in blocks for ln in b.lines)
        scanned = is_scanned(text_chars, [im.bbox for im in images], rect)
        drawings: list[dict] = []
        if scanned:
            engine = self.engine()
            if engine is not None:
                scan = max(images, key=lambda im: fig._area(im.bbox))
                dpi = ocr_dpi(scan.width, scan.bbox[2] - scan.bbox[0])
                try:
                    blocks = raw_blocks = ocr_page(renderer, engine, dpi, self.ocr_cache)
                    self.result.ocr_pages.append(pnum)
                except RenderError as exc:  # nothing to read: the page keeps what else it has
                    self.render_failures.append(f"its scan could not be rendered for OCR ({exc})")
            else:
                self.scans_without_ocr.append(pnum)
        else:
            mark_headings(blocks, body_size)
            drawings = fig.page_drawings(render_page)
        lines = [ln for b in blocks for ln in b.lines]
        page_area = (rect[2] - rect[0]) * (rect[3] - rect[1])
        rasters = [im for im in images if fig._area(im.bbox) < PAGE_BACKGROUND * page_area]

        captions = find_captions(blocks)
        caption_lines = {id(ln) for c in captions for ln in c.block.lines}
        running: list[Rect4] = []
        if s.use_layout and not scanned:
            regions = layout_regions(page)
            tables = regions.tables
            running = regions.running
            figures = self._merge_figures(
                [_Figure(im.bbox, "raster", im.dpi) for im in rasters]
                + [_Figure(b, "raster" if _overlaps_any(b, [im.bbox for im in rasters]) else "vector")
                   for b in regions.pictures]
            )
        else:
            # the header finder may render from the display list made for the page images (not when those
            # render a copy without its huge images)
            display_list = renderer.list if render_page is page else None
            tables = find_tables(page, drawings, display_list=display_list) if has_ruling(drawings) else []
            vec = fig.vector_regions(drawings, rect, [t.bbox for t in tables], lines, blocks, caption_lines)
            figures = self._merge_figures(
                [_Figure(im.bbox, "raster", im.dpi) for im in rasters] + [_Figure(b, "vector") for b in vec]
            )
        figures = [f for f in figures if not any(fig._inside(f.bbox, t.bbox, 3) for t in tables)]

        regions_for_captions = [("figure", f.bbox) for f in figures] + [("table", t.bbox) for t in tables]
        linked = link_captions(captions, regions_for_captions)
        linked_ids = {id(c) for c in linked.values()}

        # page element: without a render when MuPDF refuses it at every resolution (its text and parts stay)
        all_text = "\n".join(b.text for b in reading_order(list(raw_blocks), rect[2] - rect[0]))
        meta: dict[str, object] = {"scanned": scanned, "width": rect[2] - rect[0], "height": rect[3] - rect[1],
                                   "label": _page_label(page)}
        page_render_error = ""
        try:
            page_image: str | None = self.put_pixels(renderer.png(s.page_dpi), "png")
        except RenderError as exc:
            page_image, page_render_error = None, str(exc)
            meta["render_error"] = page_render_error
        self.element(pnum, "page", rect, text=all_text, image=page_image, meta=meta)

        regions = [f.bbox for f in figures] + [t.bbox for t in tables]
        held = caption_lines | {id(ln) for ln in lines if any(fig._center_in(ln.bbox, r) for r in regions)}
        context = [figure_context(f.bbox, blocks, held, s.figure_context_chars, regions[:i] + regions[i + 1:])
                   for i, f in enumerate(figures)]
        crops = [self._figure(pnum, renderer, f, linked.get(i), lines, context[i]) for i, f in enumerate(figures)]
        crops += [self._table(pnum, renderer, t, linked.get(len(figures) + j), first=j == 0)
                  for j, t in enumerate(tables)]

        # text: everything not in a figure, a table, a caption or a running header/footer
        taken = [f.bbox for f in figures] + [t.bbox for t in tables] + running
        kept: list[Block] = []
        for b in blocks:
            if any(id(ln) in caption_lines for ln in b.lines):
                continue
            keep = [ln for ln in b.lines if not any(fig._center_in(ln.bbox, r) for r in taken)]
            if keep:
                kept.append(Block(keep, heading=b.heading))
        self.sections.start_page(pnum, [b.text for b in kept if b.heading])
        chunks, sections = chunk_blocks(reading_order(kept, rect[2] - rect[0]), self.sections, s.chunk_chars)
        # the section path of what this page holds: the contextual header of what the text channel embeds
        for el in self.result.elements[first_new:]:
            if el.kind == "page":
                el.meta["sections"] = sections.paths()
            elif path := sections.at(el.bbox):
                el.meta.update(path=list(path), title=self.title)
        source = "ocr" if scanned and pnum in self.result.ocr_pages else "text"
        for ch in chunks:  # the text is the body (a heading standing alone: the heading); the path says the rest
            self.element(pnum, "text", ch.bbox, text=ch.text or ch.section,
                         meta={"section": ch.section, "path": list(ch.path), "title": self.title, "source": source})
        for cap in captions:
            if id(cap) not in linked_ids:
                self.element(pnum, "text", cap.bbox, text=cap.text,
                             meta={"section": self.section, "path": list(sections.at(cap.bbox)), "title": self.title,
                                   "label": cap.label, "caption": True, "source": source})
        if renderer.reduced:
            self.result.warnings.append(
                f"page {pnum}: rendered at a lower resolution (over max_render_pixels={s.max_render_pixels})"
            )
        if renderer.retried:
            self.result.warnings.append(f"page {pnum}: rendered at a lower resolution after MuPDF refused it "
                                        f"({renderer.retried})")
        if page_render_error or self.render_failures:
            self.result.warnings.append(self._render_warning(pnum, page_render_error, figures, tables, crops,
                                                             len(chunks)))

    def _render_warning(self, pnum: int, error: str, figures: list[_Figure], tables: list[FoundTable],
                        crops: list[bool], chunks: int) -> str:
        """One line: what MuPDF could not render on the page, and what the page kept."""
        n_fig, n_tab, uncropped = len(figures), len(tables), crops.count(False)
        kept = [f"its text ({chunks} chunk{'s' * (chunks != 1)})"]
        kept += [f"{n} {word}{'s' * (n != 1)}" for n, word in ((n_tab, "table"), (n_fig, "figure")) if n]
        kept_text = ", ".join(kept[:-1]) + " and " + kept[-1] if len(kept) > 1 else kept[0]
        if uncropped:
            kept_text += f" ({uncropped} of them without a crop)" if uncropped < n_fig + n_tab else " (without crops)"
        if error:
            line = (f"page {pnum}: could not be rendered ({error}; tried {RENDER_RETRIES} times more at lower "
                    f"resolutions): kept {kept_text}, without a page image")
        else:
            line = f"page {pnum}: kept {kept_text}"
        extra = [f for f in dict.fromkeys(self.render_failures) if not error or f"({error})" not in f]
        return "; ".join([line, *extra])

    def _merge_figures(self, found: list[_Figure]) -> list[_Figure]:
        s = self.settings
        boxes = fig.merge_rects([f.bbox for f in found], 2.0)
        out = []
        for box in boxes:
            if not fig.keep_figure(box, s.min_figure_area, s.min_figure_side):
                continue
            inside = [f for f in found if fig._inside(f.bbox, box, 0.5)]
            kinds = {f.figure_type for f in inside}
            dpi = max((f.native_dpi for f in inside), default=0.0)
            out.append(_Figure(box, "raster" if "raster" in kinds else "vector", dpi))
        return sorted(out, key=lambda f: (f.bbox[1], f.bbox[0]))

    def _figure(self, pnum: int, renderer: PageRenderer, f: _Figure, cap: Caption | None, lines: list[Line],
                context: FigureContext | None = None) -> bool:
        """The figure element, with its crop; False when the crop could not be rendered (text and caption kept)."""
        s = self.settings
        try:
            pix, png = renderer.pixmap_png(s.figure_dpi, f.bbox)
        except RenderError as exc:
            pix, png = None, None
            self.render_failures.append(f"a figure crop could not be rendered ({exc})")
        layer = fig.text_in(f.bbox, lines)
        texts = [ln.text for ln in layer]
        if pix is not None and f.figure_type == "raster" and s.ocr_figures:
            engine = self.engine()
            if engine is not None:
                try:
                    texts = [t for t in self._ocr_figure(engine, renderer, f, pix, texts) if t not in texts] + texts
                except RenderError:  # its own resolution failed to render: read what the crop shows instead
                    texts = [t for t in self._ocr_figure(engine, None, f, pix, texts) if t not in texts] + texts
        labels = chart_labels(texts) if s.chart_labels else None
        self.element(
            pnum, "figure", f.bbox, text=figure_text(texts, context, labels), caption=cap.text if cap else "",
            image=self.put_pixels(png, "png") if png is not None else None,
            meta={"figure_type": f.figure_type, "label": cap.label if cap else None,
                  **({"heading": context.heading} if context and context.heading else {}),
                  **({"axis": labels.axis, "legend": labels.legend} if labels else {})},
        )
        return png is not None

    def _ocr_figure(
        self, engine: OCREngine, renderer: PageRenderer | None, f: _Figure, pix: pymupdf.Pixmap, layer: list[str]
    ) -> list[str]:
        """OCR text of a raster figure, only where it pays: not when the PDF's own text layer already covers
        it, nor for pictures without sharp strokes; read at the image's own resolution, never upscaled."""
        from PIL import Image

        s = self.settings
        if sum(len(t) for t in layer) >= s.ocr_text_layer_chars:
            self.ocr_stats["gated"] += 1
            return []
        dpi = s.figure_dpi
        if f.native_dpi > 0:
            dpi = int(max(s.ocr_min_dpi, min(s.figure_dpi, f.native_dpi)))
        if dpi != s.figure_dpi and renderer is not None:
            pix = renderer.pixmap(dpi, f.bbox)
        img = Image.frombytes("RGB", (pix.width, pix.height), pix.samples)
        if s.ocr_gate and not worth_reading(img):
            self.ocr_stats["gated"] += 1
            return []
        lines, hit = cached_read(engine, img, self.ocr_cache)
        self.ocr_stats["cached" if hit else "read"] += 1
        return [ln.text for ln in lines if ln.confidence >= 0.5]

    def _table(self, pnum: int, renderer: PageRenderer, t: FoundTable, cap: Caption | None, first: bool) -> bool:
        """The table element, with its crop; False when the crop could not be rendered (its cells kept)."""
        s = self.settings
        try:
            image: str | None = self.put_pixels(renderer.png(s.figure_dpi, t.bbox), "png")
        except RenderError as exc:
            image = None
            self.render_failures.append(f"a table crop could not be rendered ({exc})")
        meta: dict[str, object] = {"n_rows": t.n_rows, "n_cols": t.n_cols, "header": t.header,
                                   "label": cap.label if cap else None}
        prev = self.last_table
        if prev is not None and (
            (cap is not None and cap.continued)
            or (first and prev[0] == pnum - 1 and prev[2] == t.header and any(t.header))
        ):
            meta["continues"] = prev[1]
        el = self.element(pnum, "table", t.bbox, text=t.markdown(), caption=cap.text if cap else "", image=image,
                          meta=meta)
        self.last_table = (pnum, el.id, t.header)
        return image is not None


def _page_label(page: pymupdf.Page) -> str | None:
    """The page's printed label ("iv", "A-3") when the PDF defines page labels; None otherwise."""
    try:
        return page.get_label() or None
    except Exception:  # malformed /PageLabels trees: the physical number still works
        return None


def _overlaps_any(box: Rect4, others: list[Rect4]) -> bool:
    return any(min(box[2], o[2]) > max(box[0], o[0]) and min(box[3], o[3]) > max(box[1], o[1]) for o in others)

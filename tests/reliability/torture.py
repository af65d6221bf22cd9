"""A torture corpus made on the fly: PDFs that are encrypted, damaged, huge, hostile to parsers, or not PDFs at all."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pymupdf
from factories import zero_page_pdf
from PIL import Image


def _png(size: tuple[int, int], color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def _resources(doc: pymupdf.Document, page: pymupdf.Page) -> int:
    """The xref of the page's resource dictionary (PyMuPDF writes it as an indirect object)."""
    kind, value = doc.xref_get_key(page.xref, "Resources")
    assert kind == "xref", (kind, value)
    return int(value.split()[0])


def _one_page(text: str) -> pymupdf.Document:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), text)
    return doc


def encrypted_with_user_password(path: Path) -> None:
    with _one_page("Secret minutes of the board.") as doc:
        doc.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="user", owner_pw="owner")


def encrypted_owner_only(path: Path) -> None:
    """Encrypted, but with an empty user password: anyone may open it (printing/copying may be restricted)."""
    with _one_page("The ocelot survey found 57 dens.") as doc:
        doc.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="owner", permissions=0)


def corrupt_xref(path: Path) -> None:
    """Every cross-reference offset is wrong: MuPDF must rebuild the table by scanning the file."""
    with _one_page("The xref of this file is garbage but the lynx count is 19.") as doc:
        data = doc.tobytes(garbage=0, no_new_id=True)
    data = re.sub(rb"(\d{10}) 00000 n", lambda m: b"%010d 00000 n" % (int(m.group(1)) + 7), data)
    path.write_bytes(data)


def truncated(path: Path) -> None:
    with _one_page("This file was cut in half while downloading.") as doc:
        data = doc.tobytes()
    path.write_bytes(data[: len(data) // 2])


def zero_pages(path: Path) -> None:
    path.write_bytes(zero_page_pdf())


def not_a_pdf(path: Path) -> None:
    path.write_text("These are my meeting notes, saved with the wrong extension.\n" * 20)


def thousand_pages(path: Path) -> None:
    with pymupdf.open() as doc:
        for i in range(1000):
            doc.new_page(width=200, height=200).insert_text((20, 40), f"page {i + 1}")
        doc.save(path)


def huge_declared_image(path: Path) -> None:
    """A page whose image claims 20,000 x 20,000 pixels (the stream holds far less)."""
    with _one_page("A page with a gigantic embedded image.") as doc:
        page = doc[0]
        xref = page.insert_image(pymupdf.Rect(72, 100, 272, 300), stream=_png((20, 20), (200, 40, 40)))
        doc.xref_set_key(xref, "Width", "20000")
        doc.xref_set_key(xref, "Height", "20000")
        doc.save(path)


def thousands_of_tiny_images(path: Path, n: int = 3000) -> None:
    """One page drawing the same 2 x 2 image n times, each 3 points wide (written as one content stream)."""
    with _one_page("A page sprinkled with confetti.") as doc:
        page = doc[0]
        page.insert_image(pymupdf.Rect(10, 10, 13, 13), stream=_png((2, 2), (0, 0, 0)))
        name = page.get_images(full=True)[0][7]
        draws = []
        for i in range(1, n):
            x, y = (i % 60) * 9 + 20, 700 - (i // 60) * 12
            draws.append(f"q 3 0 0 3 {x} {y} cm /{name} Do Q")
        contents = page.get_contents()[-1]
        doc.update_stream(contents, doc.xref_stream(contents) + ("\n" + "\n".join(draws) + "\n").encode())
        doc.save(path)


def nested_forms(path: Path, depth: int = 300) -> None:
    """Form XObjects nested `depth` deep, plus one that draws itself (a cycle)."""
    with _one_page("Forms within forms within forms.") as doc:
        inner = doc.get_new_xref()
        doc.update_object(inner, "<</Type/XObject/Subtype/Form/BBox[0 0 100 100]>>")
        doc.update_stream(inner, b"0 0 m 100 100 l S")
        for level in range(depth):
            outer = doc.get_new_xref()
            doc.update_object(outer, f"<</Type/XObject/Subtype/Form/BBox[0 0 100 100]"
                                     f"/Resources<</XObject<</F{level} {inner} 0 R>>>>>>")
            doc.update_stream(outer, f"/F{level} Do".encode())
            inner = outer
        cycle = doc.get_new_xref()
        doc.update_object(cycle, f"<</Type/XObject/Subtype/Form/BBox[0 0 10 10]/Resources<</XObject<</Me {cycle} 0 R"
                                 f">>>>>>")
        doc.update_stream(cycle, b"/Me Do")
        page = doc[0]
        resources = _resources(doc, page)
        doc.xref_set_key(resources, "XObject/Deep", f"{inner} 0 R")
        doc.xref_set_key(resources, "XObject/Loop", f"{cycle} 0 R")
        contents = page.get_contents()[0]
        doc.update_stream(contents, doc.xref_stream(contents) + b"\nq /Deep Do Q q /Loop Do Q\n")
        doc.save(path)


def broken_font(path: Path) -> None:
    """Text set in an embedded TrueType font whose font file is garbage."""
    with _one_page("The pangolin report is set partly in a broken font.") as doc:
        page = doc[0]
        garbage = doc.get_new_xref()
        doc.update_object(garbage, "<<>>")
        doc.update_stream(garbage, bytes(range(256)) * 8)
        descriptor = doc.get_new_xref()
        doc.update_object(descriptor, f"<</Type/FontDescriptor/FontName/Broken/Flags 32/FontBBox[0 0 1000 1000]"
                                      f"/ItalicAngle 0/Ascent 800/Descent -200/CapHeight 700/StemV 80"
                                      f"/FontFile2 {garbage} 0 R>>")
        font = doc.get_new_xref()
        doc.update_object(font, f"<</Type/Font/Subtype/TrueType/BaseFont/Broken/FirstChar 32/LastChar 126"
                                f"/Widths[{' '.join(['500'] * 95)}]/FontDescriptor {descriptor} 0 R>>")
        doc.xref_set_key(_resources(doc, page), "Font/FB", f"{font} 0 R")
        contents = page.get_contents()[0]
        doc.update_stream(contents, doc.xref_stream(contents)
                          + b"\nBT /FB 12 Tf 72 200 Td (Pangolins number 8,812 in the reserve.) Tj ET\n")
        doc.save(path)


def rotated_pages(path: Path) -> None:
    with pymupdf.open() as doc:
        for rotation in (90, 180, 270):
            page = doc.new_page()
            page.insert_text((72, 72), f"This page is rotated by {rotation} degrees; the wombat tally is 33.")
            page.set_rotation(rotation)
        doc.save(path)


# name -> (builder, expected outcome: "failed" with a fragment of the reason, or "added" with one of a warning)
TORTURE = {
    "locked.pdf": (encrypted_with_user_password, ("failed", "password")),
    "owner_only.pdf": (encrypted_owner_only, ("added", None)),
    "bad_xref.pdf": (corrupt_xref, ("added", "cross-reference table was repaired")),
    "truncated.pdf": (truncated, ("failed", "cannot be opened")),
    "zero.pdf": (zero_pages, ("failed", "no pages")),
    "notes.pdf": (not_a_pdf, ("failed", "not a PDF")),
    "long.pdf": (thousand_pages, ("failed", "1000 pages, more than max_pages=500")),
    "huge_image.pdf": (huge_declared_image, ("added", "over max_image_pixels")),
    "confetti.pdf": (thousands_of_tiny_images, ("added", None)),
    "nested.pdf": (nested_forms, ("failed", "no page could be parsed")),
    "broken_font.pdf": (broken_font, ("added", None)),
    "rotated.pdf": (rotated_pages, ("added", None)),
}


def build_torture_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (build, _) in TORTURE.items():
        build(folder / name)
    return folder

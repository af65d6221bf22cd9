"""Small builders shared by the tests: a tiny open_clip architecture, a tiny ColQwen2 folder, a fake
late-interaction encoder, image elements, hand-written PDFs, a tiny cross-encoder, a fake OpenAI-compatible
server and a forced reply for the random tiny VLM."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path
from typing import Any

TINY_CLIP = "mmrag-test-tiny-clip"
TINY_CLIP_CFG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16},
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 64, "heads": 4, "layers": 2},
}


def register_tiny_clip(folder: Path) -> str:
    """Register the tiny open_clip config (build it with pretrained='random'); returns its name.

    Tests get it through the session fixture `tiny_clip` (tests/conftest.py).
    """
    import open_clip

    path = folder / f"{TINY_CLIP}.json"
    path.write_text(json.dumps(TINY_CLIP_CFG))
    open_clip.add_model_config(path)
    return TINY_CLIP


def tiny_clip_encoder(name: str, batch_size: int = 8) -> Any:
    """The registered tiny CLIP with random weights, the same ones every time (seeded), on the CPU."""
    import torch

    from mmrag.models.image_encoder import OpenClipEncoder

    torch.manual_seed(0)
    return OpenClipEncoder.load(name, "random", device="cpu", batch_size=batch_size)


def save_tiny_colqwen2(folder: Path) -> str:
    """A tiny random ColQwen2 (transformers' ColQwen2ForRetrieval, 16-d vectors) and its processor, saved to
    `folder` (seeded: the same weights every time). Tests get it through the session fixture `tiny_colqwen2`."""
    from mmrag.models.random_colqwen2 import save_random_colqwen2

    return save_random_colqwen2(folder, "tiny", seed=0)


class FakePagesEncoder:
    """A LateInteractionEncoder without a model: each image's vectors are random unit rows seeded by its pixels
    (3 to 11 of them), each query's by its text, so a test knows every stored vector and can score by hand."""

    name = "fake-colpali"

    def __init__(self, dim: int = 8) -> None:
        self.dim = dim
        self.pages: list[Any] = []  # every page's vectors, in the order encoded
        self.queries: list[Any] = []

    def _vectors(self, seed: bytes) -> Any:
        import hashlib

        import numpy as np

        rng = np.random.default_rng(int.from_bytes(hashlib.sha256(seed).digest()[:8], "little"))
        rows = rng.standard_normal((int(rng.integers(3, 12)), self.dim)).astype(np.float32)
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)

    def encode_pages(self, images: list[Any]) -> list[Any]:
        out = [self._vectors(im.tobytes()) for im in images]
        self.pages.extend(out)
        return out

    def encode_queries(self, texts: list[str]) -> list[Any]:
        out = [self._vectors(t.encode()) for t in texts]
        self.queries.extend(out)
        return out

    def fingerprint(self) -> dict[str, Any]:
        return {"model": self.name, "dim": self.dim, "max_pixels": 0}


IMAGE_KINDS = ["figure", "table", "page"]


class Pixels:
    """An in-memory pixel store: key → PNG bytes (a PixelReader)."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def put(self, image: Any) -> str:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        key = f"px{len(self.data)}.png"
        self.data[key] = buffer.getvalue()
        return key

    def __call__(self, key: str) -> bytes:
        return self.data[key]


def image_corpus(pixels: Pixels, docs: int = 3, per_doc: int = 6) -> list[Any]:
    """`docs` documents of `per_doc` random-pixel figures, tables and pages (pages 1-3), each with a text chunk
    and a figure without pixels (neither embedded by the image channel)."""
    import numpy as np
    from PIL import Image

    from mmrag.elements import Element, element_id

    rng = np.random.default_rng(1)
    elements = []
    for d in range(docs):
        doc = f"doc {d}.pdf"
        for i in range(per_doc):
            kind = IMAGE_KINDS[i % 3]
            image = Image.fromarray(rng.integers(0, 255, (48 + 4 * i, 64, 3), dtype=np.uint8))
            bbox = (float(i), 0.0, 10.0, 10.0)
            eid = element_id(f"sha{d}", 1 + i // 2, kind, bbox)
            elements.append(Element(eid, doc, f"sha{d}", 1 + i // 2, kind, bbox, image=pixels.put(image)))
        for kind, box in (("text", (0.0, 0.0, 1.0, 1.0)), ("figure", (5.0, 5.0, 6.0, 6.0))):
            elements.append(Element(element_id(f"sha{d}", 1, kind, box), doc, f"sha{d}", 1, kind, box))
    return elements


def striped_png(w: int, h: int) -> bytes:
    """A w x h PNG picture: flat blue with a dotted white line across its middle (an image, not a decoration)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    img = Image.new("RGB", (w, h), (40, 120, 200))
    for x in range(0, w, 7):
        img.putpixel((x, h // 2), (255, 255, 255))
    img.save(buf, format="PNG")
    return buf.getvalue()


def zero_page_pdf() -> bytes:
    """A well-formed PDF whose page tree is empty (PyMuPDF refuses to save one)."""
    objs = [b"<</Type/Catalog/Pages 2 0 R>>", b"<</Type/Pages/Kids[]/Count 0>>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def tiny_cross_encoder(folder: Path, words: list[str]) -> str:
    """A randomly initialised one-layer BERT cross-encoder with a WordPiece vocab of `words`, saved to `folder`."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    (folder / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    tokenizer = BertTokenizer(vocab_file=str(folder / "vocab.txt"))
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=128, num_labels=1)
    BertForSequenceClassification(cfg).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


class ThreadedServer:
    """`with` runs `self.httpd` (a ThreadingHTTPServer the subclass builds) in a thread, and shuts it down."""

    httpd: Any

    def __enter__(self) -> Any:
        import threading

        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class ChatServer(ThreadedServer):
    """A fake OpenAI-compatible `chat/completions` endpoint on 127.0.0.1, in a thread (`with ChatServer(...)`).

    Records each request (`requests`: the JSON body plus its "path"; `headers`) and answers with `reply`, or
    with an error body when `status` is not 200. `url` is the base URL a client is given (…/v1).
    """

    def __init__(self, reply: str = "") -> None:
        import json
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.reply = reply
        self.status = 200
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, **body})
                server.headers.append(dict(self.headers))
                if server.status != 200:
                    payload: dict[str, Any] = {"error": {"message": "model 'nope' not found"}}
                else:
                    payload = {"choices": [{"message": {"role": "assistant", "content": server.reply}}]}
                data = json.dumps(payload).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"



def force_text(ids: list[int], prompt_len: int) -> Any:
    """A `LogitsProcessorList` that makes a (random) model write the token ids `ids` after a prompt of
    `prompt_len` tokens, so answer handling is checked on real `generate` output."""
    import torch
    from transformers import LogitsProcessor, LogitsProcessorList

    class ForceText(LogitsProcessor):
        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
            step = input_ids.shape[1] - prompt_len
            if step < len(ids):
                scores = torch.full_like(scores, -float("inf"))
                scores[:, ids[step]] = 0.0
            return scores

    return LogitsProcessorList([ForceText()])


def assert_filters_apply_inside_the_search(channel: Any, corpus: list[Any]) -> None:
    """Doc, kind and page filters on `image_corpus` (3 documents x 4 pages x 3 kinds) hold inside the search."""
    from mmrag.indexes.base import SearchFilter

    by_id = {e.id: e for e in corpus}
    cases = [
        (SearchFilter(docs=["doc 1.pdf"]), lambda e: e.doc == "doc 1.pdf", 6),
        (SearchFilter(kinds=["table"]), lambda e: e.kind == "table", 6),
        (SearchFilter(pages=(2, 3)), lambda e: 2 <= e.page <= 3, 12),
        (SearchFilter(docs=["doc 0.pdf", "doc 2.pdf"], kinds=["page", "figure"], pages=(1, 1)),
         lambda e: e.doc != "doc 1.pdf" and e.kind in ("page", "figure") and e.page == 1, 2),
    ]
    for flt, keep, expected in cases:
        hits = channel.search("a table", k=50, flt=flt)
        assert len(hits) == expected, flt
        assert all(keep(by_id[h.element_id]) for h in hits)
        # a filter is not a post-filter of a short list: k=2 still gives 2 matching hits
        assert len(channel.search("a table", k=2, flt=flt)) == 2


class SSEServer(ThreadedServer):
    """A fake OpenAI-compatible endpoint that answers every POST with server-sent events, in a thread.

    `events` are the SSE lines to send (a dict is sent as `data: <json>`); the body goes out in HTTP chunks of
    `chunk_bytes` bytes (so lines and UTF-8 characters are split across chunks). When `gate` is set, the handler
    sends the first event, then waits (up to `gate_seconds`, 3) for the gate before the rest, and `gate_opened`
    says whether it opened in time. A `status` other than 200 answers with a JSON error body instead.
    """

    def __init__(self, events: list[Any], chunk_bytes: int = 7) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.events = events
        self.chunk_bytes = chunk_bytes
        self.status = 200
        self.requests: list[dict[str, Any]] = []
        self.gate: threading.Event | None = None
        self.gate_opened: bool | None = None
        self.gate_seconds = 3.0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                server.requests.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                if server.status != 200:
                    body = json.dumps({"error": {"message": "model 'nope' not found"}}).encode()
                    self.send_response(server.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream; charset=utf-8")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                lines = [f"data: {json.dumps(e, ensure_ascii=False)}" if isinstance(e, dict) else e
                         for e in server.events]  # fmt: skip
                for i, line in enumerate(lines):
                    data = (line + "\n\n").encode()
                    for start in range(0, len(data), server.chunk_bytes):
                        self.send_chunk(data[start : start + server.chunk_bytes])
                    if i == 0 and server.gate is not None:
                        server.gate_opened = server.gate.wait(server.gate_seconds)
                self.wfile.write(b"0\r\n\r\n")

            def send_chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"



def delta(content: Any = None, **fields: Any) -> dict[str, Any]:
    """One chat.completion.chunk event whose choices[0].delta holds `content` (and `fields`)."""
    d = {**fields, **({"content": content} if content is not None else {})}
    return {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": d, "finish_reason": None}]}


class RecordingOCR:
    """An OCR engine that records the size of every image it is given and reads one line, "corner", in the
    lower right quarter of it (in the pixels it saw)."""

    name = "recorder"

    def __init__(self) -> None:
        self.sizes: list[tuple[int, int]] = []

    def read(self, image: Any) -> list[Any]:
        from mmrag.ingest.ocr import OCRLine

        self.sizes.append(image.size)
        w, h = image.size
        return [OCRLine("corner", (w / 2, h / 2, w, h), 0.9)]

"""HTTP load on `mmrag serve` (GET /api/search, POST /api/ask) next to MMIndex.search / .ask in-process, same run.

    python benchmarks/bench_serve.py                        # sample corpus: builds a temporary index (~15-25 s)
    python benchmarks/bench_serve.py --index IDX            # an existing index (a copy is served: the writer adds)
    python benchmarks/bench_serve.py --pdfs ../shared/devset/pdfs --max-docs 4 \\
        --writer-pdfs ../shared/devset/pdfs/FOOTLOCKER_2022_8K_dated-2022-05-20.pdf ...   # dev-set subset
        [--clients 1,8,32] [--duration 6] [--questions FILE] [--search-k 10] [--ask-k 6] [--no-writer]
        [--label NAME] [--out FILE.json] [--json]

What it does, all in one run against one index folder (a temporary copy unless --in-place):
1. starts `mmrag serve --index IDX --port P` on a free 127.0.0.1 port and waits for /api/health;
2. opens the same index in this process (`mmrag.open_index(IDX, read_only=True)`) as the baseline;
3. idle phase: 1 client, in-process and HTTP calls interleaved query by query (so both see the same machine state;
   these two rows give the server's overhead: HTTP p50 minus in-process p50), then for every N > 1 in --clients
   N threads in-process (one index shared under one lock, as IndexService shares it: what the cores allow) and N
   HTTP client threads (http.client, one keep-alive connection each), for --duration seconds per cell, for search
   (k=--search-k) and ask (k=--ask-k; both paths get the same k);
4. writer phase: a `mmrag index BATCH --index IDX` subprocess runs again and again (each round copies --writer-pdfs,
   default the sample corpus PDFs, under new names, so they are new documents) while the same cells are measured
   again (in-process only at 1 client); then, after the last round ends, how long the server takes to list all
   the new documents at /api/documents (it reopens the index in the background) and whether a new document is
   searchable over HTTP.
Queries: the questions of questions.jsonl (the one beside --pdfs, else sample_corpus's), cycled; each client
thread starts at its own offset. Errors: a non-200 answer or an exception (samples of each kind are kept).
The client threads run in this process, on the same cores as the server: their CPU share is in the table.

Prints a table and writes benchmarks/results/serve-<date>-<label>.json (the result envelope of
benchmarks/results.py: date, machine, versions, command line, what was compared, every figure) and a .md beside it
with the tables. Goal (the issue): p50 overhead under 5 ms, 0 errors at 32 clients,
with and without a writer.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
import psutil
from results import add_results_dir_option, machine, write_result

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_corpus"
# ../shared/devset beside the checkout (or two levels up, from a git worktree)
DEVSET = next((p / "shared" / "devset" for p in (ROOT.parent, ROOT.parent.parent)
               if (p / "shared" / "devset" / "pdfs").is_dir()), ROOT.parent / "shared" / "devset")
# the four dev-set filings of bench_ingest.py (~280 pages) come first when --max-docs picks from the dev set
DEVSET_FIRST = ["AMCOR_2023Q4_EARNINGS.pdf", "JOHNSON_JOHNSON_2023Q2_EARNINGS.pdf", "ADOBE_2022_10K.pdf",
                "PFIZER_2021_10K.pdf"]
GOAL_OVERHEAD_MS = 5.0
GOAL_CLIENTS = 32
ENV = {**os.environ, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
MAX_ERROR_SAMPLES = 5
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b(: .*)?$")


def say(msg: str, quiet: bool = False) -> None:
    print(msg, file=sys.stderr if quiet else sys.stdout, flush=True)


def mmrag_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "mmrag.cli.app", *args]


# inputs ---------------------------------------------------------------------------------------------------------
def pdf_files(paths: list[Path], max_docs: int | None = None) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(p.glob("*.pdf"))
            first = [f for name in DEVSET_FIRST for f in found if f.name == name]
            files += first + [f for f in found if f not in first]
        else:
            files.append(p)
    return files[:max_docs] if max_docs else files


def load_questions(path: Path) -> list[str]:
    out = [json.loads(line)["question"] for line in path.read_text().splitlines() if line.strip()]
    if not out:
        sys.exit(f"{path}: no questions")
    return out


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentiles(seconds: list[float]) -> dict[str, float | None]:
    if not seconds:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "mean_ms": None, "max_ms": None}
    ms = np.asarray(seconds) * 1000
    return {"p50_ms": round(float(np.percentile(ms, 50)), 3), "p95_ms": round(float(np.percentile(ms, 95)), 3),
            "p99_ms": round(float(np.percentile(ms, 99)), 3), "mean_ms": round(float(ms.mean()), 3),
            "max_ms": round(float(ms.max()), 3)}


# the server -----------------------------------------------------------------------------------------------------
class Server:
    """`mmrag serve` in a subprocess; its output goes to a log file."""

    def __init__(self, index: Path, log: Path, generator: str | None) -> None:
        self.port = free_port()
        self.log_path = log
        args = ["serve", "--index", str(index), "--port", str(self.port)]
        if generator:
            args += ["--generator", generator]
        self.command = mmrag_cmd(*args)
        self._log = open(log, "wb")  # noqa: SIM115 (closed in stop)
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(self.command, stdout=self._log, stderr=subprocess.STDOUT, env=ENV)
        self.ps = psutil.Process(self.proc.pid)
        deadline = time.monotonic() + 300
        while True:
            if self.proc.poll() is not None:
                sys.exit(f"mmrag serve exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                status, _ = self.get("/api/health", timeout=5)
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                sys.exit(f"mmrag serve did not answer /api/health in 300 s:\n{self.log_tail()}")
            time.sleep(0.2)
        self.start_s = time.perf_counter() - t0

    def get(self, path: str, timeout: float = 30) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, json.loads(data) if resp.status == 200 else data[:300]
        finally:
            conn.close()

    def documents(self) -> int:
        status, data = self.get("/api/documents")
        if status != 200:
            raise RuntimeError(f"/api/documents: HTTP {status}: {data!r}")
        return int(data["documents"])

    def cpu_s(self) -> float:
        t = self.ps.cpu_times()
        return t.user + t.system

    def rss_mb(self) -> float:
        return round(self.ps.memory_info().rss / 2**20, 1)

    def log_tail(self, n: int = 4000) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")[-n:]

    def log_counts(self) -> dict[str, Any]:
        """What the server logged: tracebacks, and each distinct exception line (what a traceback ends with)."""
        text = self.log_path.read_text(errors="replace")
        raised = Counter(line.strip()[:200] for line in text.splitlines() if EXCEPTION_LINE.match(line))
        return {"lines": text.count("\n"), "tracebacks": text.count("Traceback (most recent call last)"),
                "asgi_exceptions": text.count("Exception in ASGI application"),
                "reopen_failures": text.count("could not reopen"), "exceptions": dict(raised.most_common(10))}

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(2)  # SIGINT: uvicorn shuts down, then the service closes the index
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        self._log.close()
        return self.proc.returncode


# the callers ----------------------------------------------------------------------------------------------------
class HttpCaller:
    """One keep-alive connection; call(q) -> None when the answer is 200, else what went wrong."""

    def __init__(self, port: int, endpoint: str, k: int) -> None:
        self.port, self.endpoint, self.k = port, endpoint, k
        self.conn = self._connect()

    def _connect(self) -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def __call__(self, q: str) -> str | None:
        try:
            if self.endpoint == "search":
                self.conn.request("GET", "/api/search?" + urlencode({"q": q, "k": self.k}))
            else:
                body = json.dumps({"question": q, "k": self.k}).encode()
                self.conn.request("POST", "/api/ask", body, {"Content-Type": "application/json"})
            resp = self.conn.getresponse()
            data = resp.read()
            if resp.status != 200:
                return f"HTTP {resp.status}: {data[:200].decode(errors='replace')}"
            return None
        except Exception as exc:  # counted as an error; a fresh connection for the next request
            self.conn.close()
            try:
                self.conn = self._connect()
            except OSError:
                pass
            return f"{type(exc).__name__}: {str(exc)[:200]}"

    def close(self) -> None:
        self.conn.close()


class InProcCaller:
    """MMIndex.search / .ask in this process. The index is shared by every thread under one lock, as IndexService
    shares it (search under the lock, the extractive answer outside it); with one thread it is MMIndex.ask."""

    def __init__(self, index: Any, lock: threading.Lock, endpoint: str, k: int) -> None:
        self.index, self.lock, self.endpoint, self.k = index, lock, endpoint, k

    def __call__(self, q: str) -> str | None:
        try:
            with self.lock:
                hits = self.index.search(q, k=self.k)
                generator = self.index.generator if self.endpoint == "ask" else None
            if generator is not None:
                generator.generate(q, hits)
            return None
        except Exception as exc:
            return f"{type(exc).__name__}: {str(exc)[:200]}"

    def close(self) -> None:
        pass


def fresh_copy(src: Path, dst: Path, tag: str) -> None:
    """A copy of a PDF with other bytes (a keyword added to its metadata): element ids derive from the file's
    hash, so a byte-identical copy under a new name would take over the original's elements instead of adding."""
    import pymupdf

    with pymupdf.open(src) as pdf:
        meta = {k: (pdf.metadata or {}).get(k) or "" for k in ("title", "author", "subject", "keywords", "creator",
                                                               "producer", "creationDate", "modDate")}
        meta["keywords"] = f"{meta['keywords']} {tag}".strip()
        pdf.set_metadata(meta)
        pdf.save(dst)


class Writer:
    """`mmrag index BATCH --index IDX` again and again in a subprocess, each round on fresh copies of the sources
    (new names: new documents), until stop() — the round under way then finishes."""

    def __init__(self, index: Path, sources: list[Path], work: Path, workers: int | None) -> None:
        self.index, self.sources, self.work, self.workers = index, sources, work, workers
        self.runs: list[dict[str, Any]] = []
        self._stop = threading.Event()
        self._t0 = time.perf_counter()
        self.started = threading.Event()
        self.proc: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._loop, name="bench-writer", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self.started.wait(60)

    def _loop(self) -> None:
        r = 0
        while not self._stop.is_set():
            batch = self.work / f"writer{r}"
            batch.mkdir(parents=True)
            names = []
            for src in self.sources:
                fresh_copy(src, batch / f"w{r}_{src.name}", f"bench_serve writer round {r}")
                names.append(f"w{r}_{src.name}")
            cmd = mmrag_cmd("index", str(batch), "--index", str(self.index), "--json")
            if self.workers is not None:
                cmd += ["--workers", str(self.workers)]
            run: dict[str, Any] = {"round": r, "docs": names, "start_s": round(time.perf_counter() - self._t0, 2)}
            self.runs.append(run)
            log = self.work / f"writer{r}.log"
            with open(log, "wb") as err:
                self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, env=ENV)
                self.started.set()
                out, _ = self.proc.communicate()
            run["end_s"] = round(time.perf_counter() - self._t0, 2)
            run["rc"] = self.proc.returncode
            try:
                run["added"] = len(json.loads(out)["added"])
            except (ValueError, KeyError, TypeError):
                run["added"] = len(names) if self.proc.returncode == 0 else None
            if self.proc.returncode not in (0, 1):
                run["error"] = log.read_text(errors="replace")[-1000:]
                self.started.set()
                break  # a writer that fails at once would otherwise spin
            r += 1

    def now(self) -> float:
        return time.perf_counter() - self._t0

    def busy_between(self, a: float, b: float) -> float:
        """Seconds of [a, b] (writer clock) during which a writer process ran."""
        busy = 0.0
        for run in self.runs:
            end = run.get("end_s", self.now())
            busy += max(0.0, min(b, end) - max(a, run["start_s"]))
        return busy

    def stop(self, timeout: float) -> bool:
        """Let the round under way finish (up to timeout s, then end it); True when it finished on its own."""
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive() and self.proc is not None:
            self.proc.terminate()
            self._thread.join(30)
            return False
        return True

    def pids(self) -> list[int]:
        """The writer process and its workers, while one runs."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        try:
            p = psutil.Process(self.proc.pid)
            return [p.pid, *(c.pid for c in p.children(recursive=True))]
        except psutil.Error:
            return []


Caller = HttpCaller | InProcCaller


# the load -------------------------------------------------------------------------------------------------------
def run_cell(make: Callable[[int], Caller], n: int, questions: list[str], duration: float,
             server: Server, writer: Writer | None) -> dict[str, Any]:
    """n threads, each with its own caller, calling for `duration` seconds after a common start."""
    lat: list[list[float]] = [[] for _ in range(n)]
    errs: list[list[str]] = [[] for _ in range(n)]
    ends = [0.0] * n
    state: dict[str, float] = {}

    def begin() -> None:
        state["start"] = time.perf_counter()

    barrier = threading.Barrier(n, action=begin)
    stride = max(1, len(questions) // n)

    def work(i: int) -> None:
        caller = make(i)
        caller(questions[i % len(questions)])  # warm-up (not counted): connection, thread pool
        barrier.wait()
        deadline = state["start"] + duration
        j = i * stride
        while time.perf_counter() < deadline:
            q = questions[j % len(questions)]
            j += 1
            t = time.perf_counter()
            err = caller(q)
            dt = time.perf_counter() - t
            (lat[i].append(dt) if err is None else errs[i].append(err))
        ends[i] = time.perf_counter()
        caller.close()

    cpu0, srv0, w0 = _cpu_self(), server.cpu_s(), writer.now() if writer else 0.0
    threads = [threading.Thread(target=work, args=(i,), name=f"bench-client-{i}") for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = max(ends) - state["start"]
    latencies = [x for per in lat for x in per]
    errors = [x for per in errs for x in per]
    return _cell(latencies, errors, wall, n, _cpu_self() - cpu0, server.cpu_s() - srv0, writer, w0)


def run_paired(inproc: Caller, http: Caller, questions: list[str],
               duration: float, server: Server, writer: Writer | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """One thread: the same query in-process, then over HTTP, alternately; two cells from one run."""
    inproc(questions[0])
    http(questions[0])
    lat: dict[str, list[float]] = {"inproc": [], "http": []}
    errs: dict[str, list[str]] = {"inproc": [], "http": []}
    cpu0, srv0, w0 = _cpu_self(), server.cpu_s(), writer.now() if writer else 0.0
    t0 = time.perf_counter()
    j = 0
    while time.perf_counter() < t0 + duration:
        q = questions[j % len(questions)]
        j += 1
        for name, call in (("inproc", inproc), ("http", http)):
            t = time.perf_counter()
            err = call(q)
            dt = time.perf_counter() - t
            (lat[name].append(dt) if err is None else errs[name].append(err))
    wall = time.perf_counter() - t0
    cpu, srv = _cpu_self() - cpu0, server.cpu_s() - srv0
    # the two paths share the wall clock: each gets its own share of it for requests/s
    share = {name: sum(lat[name]) / max(sum(lat["inproc"]) + sum(lat["http"]), 1e-9) for name in lat}
    return tuple(  # type: ignore[return-value]
        _cell(lat[name], errs[name], wall * share[name], 1, cpu * share[name], srv if name == "http" else 0.0,
              writer, w0) | {"interleaved": True}
        for name in ("inproc", "http"))


def _cpu_self() -> float:
    t = os.times()
    return t.user + t.system


def _cell(latencies: list[float], errors: list[str], wall: float, n: int, client_cpu: float, server_cpu: float,
          writer: Writer | None, w0: float) -> dict[str, Any]:
    out: dict[str, Any] = {
        "clients": n, "requests": len(latencies), "errors": len(errors),
        "error_kinds": dict(Counter(e.split(":")[0] for e in errors)),
        "error_samples": list(dict.fromkeys(errors))[:MAX_ERROR_SAMPLES],
        "wall_s": round(wall, 2), "rps": round(len(latencies) / wall, 1) if wall > 0 else None,
        **percentiles(latencies),
        "client_cpu_pct": round(100 * client_cpu / wall, 0) if wall > 0 else None,
        "server_cpu_pct": round(100 * server_cpu / wall, 0) if wall > 0 else None,
    }
    if writer is not None:
        w1 = writer.now()
        out["writer_busy_frac"] = round(writer.busy_between(w0, w1) / max(w1 - w0, 1e-9), 2)
    return out


def run_phase(name: str, args: argparse.Namespace, questions: list[str], server: Server, index: Any,
              writer: Writer | None, quiet: bool) -> dict[str, dict[str, Any]]:
    cells: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()
    k = {"search": args.search_k, "ask": args.ask_k}
    for endpoint in ("search", "ask"):
        http = HttpCaller(server.port, endpoint, k[endpoint])
        inproc, remote = run_paired(InProcCaller(index, lock, endpoint, k[endpoint]), http, questions,
                                    args.duration, server, writer)
        http.close()
        for mode, cell in (("inproc", inproc), ("http", remote)):
            cells[f"{mode} {endpoint} x1"] = {"mode": mode, "endpoint": endpoint, **cell}
            say(f"  [{name}] {_row(f'{mode} {endpoint} x1', cells[f'{mode} {endpoint} x1'])}", quiet)
        for n in (c for c in args.clients if c > 1):
            modes = ("inproc", "http") if writer is None else ("http",)
            for mode in modes:
                def make(i: int, m: str = mode, e: str = endpoint) -> Caller:
                    return InProcCaller(index, lock, e, k[e]) if m == "inproc" else HttpCaller(server.port, e, k[e])

                key = f"{mode} {endpoint} x{n}"
                cells[key] = {"mode": mode, "endpoint": endpoint,
                              **run_cell(make, n, questions, args.duration, server, writer)}
                say(f"  [{name}] {_row(key, cells[key])}", quiet)
    return cells


def overhead(cells: dict[str, dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    for endpoint in ("search", "ask"):
        a, b = cells.get(f"http {endpoint} x1", {}), cells.get(f"inproc {endpoint} x1", {})
        if a.get("p50_ms") is None or b.get("p50_ms") is None:
            continue
        out[endpoint] = {"http_p50_ms": a["p50_ms"], "inproc_p50_ms": b["p50_ms"],
                         "overhead_p50_ms": round(a["p50_ms"] - b["p50_ms"], 3),
                         "ratio_p50": round(a["p50_ms"] / b["p50_ms"], 2),
                         "overhead_p95_ms": round(a["p95_ms"] - b["p95_ms"], 3)}
    return out


def new_docs_searchable(server: Server, writer: Writer, query: str, wait_s: float = 30) -> dict[str, Any]:
    """Whether /api/search filtered to a new document (the first and the last round's first) finds hits, retried
    for up to wait_s seconds; the statuses seen on the way."""
    out: dict[str, Any] = {}
    rounds = [r for r in writer.runs if r.get("added")]
    for run in rounds[:1] + rounds[1:][-1:]:
        doc = run["docs"][0]
        statuses: list[int] = []
        deadline, ok, t0 = time.monotonic() + wait_s, False, time.perf_counter()
        while not ok and time.monotonic() < deadline:
            status, data = server.get("/api/search?" + urlencode({"q": query, "k": 3, "doc": doc}))
            statuses.append(status)
            ok = status == 200 and bool(data.get("hits"))
            if not ok:
                time.sleep(0.5)
        out[doc] = {"hits_found": ok, "after_s": round(time.perf_counter() - t0, 2),
                    "statuses": dict(Counter(statuses))}
    return out


# report ---------------------------------------------------------------------------------------------------------
HEADER = (f"{'cell':<20} {'reqs':>6} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} "
          f"{'errors':>6} {'srv cpu':>7} {'cli cpu':>7} {'writer':>6}")


def _fmt(v: Any, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def _row(key: str, c: dict[str, Any]) -> str:
    writer = f"{c['writer_busy_frac']:.2f}" if "writer_busy_frac" in c else "-"
    srv = f"{c['server_cpu_pct']:.0f}%" if c.get("mode") == "http" and c["server_cpu_pct"] is not None else "-"
    return (f"{key:<20} {c['requests']:>6} {_fmt(c['rps'], '.1f'):>7} {_fmt(c['p50_ms'], '.2f'):>8} "
            f"{_fmt(c['p95_ms'], '.2f'):>8} {_fmt(c['p99_ms'], '.2f'):>8} {_fmt(c['max_ms'], '.1f'):>8} "
            f"{c['errors']:>6} {srv:>7} {_fmt(c['client_cpu_pct'], '.0f') + '%':>7} {writer:>6}")


def tables(report: dict[str, Any]) -> list[str]:
    lines = []
    for phase, data in report["phases"].items():
        lines += [f"{phase}:", HEADER]
        lines += [_row(key, cell) for key, cell in data["cells"].items()]
        for key, cell in data["cells"].items():
            if cell["errors"]:
                lines.append(f"  {key} errors: {cell['error_kinds']}; first: {cell['error_samples'][0]}")
        for endpoint, o in data["overhead"].items():
            lines.append(f"  {endpoint} overhead at 1 client: HTTP p50 {o['http_p50_ms']:.2f} ms - in-process p50 "
                         f"{o['inproc_p50_ms']:.2f} ms = {o['overhead_p50_ms']:.2f} ms (x{o['ratio_p50']:.2f})")
        w = data.get("writer")
        if w:
            lines.append(f"  writer: {len(w['runs'])} rounds of `mmrag index` ({w['docs_added']} documents added); "
                         f"documents listed {w['docs_before']} -> {w['docs_after']} (expected {w['docs_expected']}),"
                         f" all seen {_fmt(w['seen_after_s'], '.1f')} s after the last round ended")
            for doc, found in (w["new_doc_searchable"] or {}).items():
                lines.append(f"  /api/search?doc={doc}: hits {found['hits_found']} (after {found['after_s']} s, "
                             f"statuses {found['statuses']})")
        lines.append("")
    g = report["goals"]
    shown = ", ".join(f"{p} {_fmt(v, '.2f')}" for p, v in g["overhead_p50_ms"].items())
    lines.append(f"goals: p50 overhead < {GOAL_OVERHEAD_MS:g} ms: {g['overhead_ok']} ({shown} ms); "
                 f"0 errors at {GOAL_CLIENTS} clients: {g['errors_ok']} "
                 f"({', '.join(f'{p} {v}' for p, v in g['errors_at_32'].items())}); all met: {g['met']}")
    return lines


def write_markdown(result: dict[str, Any], path: Path) -> None:
    """The tables of a result file (the envelope of benchmarks/results.py), as Markdown beside it."""
    setup, figures, box = result["setup"], result["figures"], result["machine"]
    corpus, settings = setup["corpus"], setup["settings"]
    lines = [f"# mmrag serve load — {result['label']} ({result['date']})", "",
             f"- command: `{result['command']}`",
             f"- machine: {box['cpus']} CPUs, {box['platform']}, "
             f"Python {box['python']}, load average (1, 5, 15 min) at start "
             f"{box['load_average']}, at the end {box['load_average_end']}",
             f"- index: {corpus['documents']} documents, {corpus['pages']} pages "
             f"({corpus['source']}); {setup['questions']['n']} questions from "
             f"{setup['questions']['file']}, cycled",
             f"- {settings['duration_s']} s per cell; search k={settings['search_k']}, ask "
             f"k={settings['ask_k']}; server up in {figures['server']['start_s']} s, RSS at the end "
             f"{figures['server']['rss_mb_end']} MB", "",
             "`srv cpu`: the server process's CPU over the cell (200% = both cores); `cli cpu`: this process (the "
             "client threads, or the in-process index); `writer`: the share of the cell during which `mmrag index` "
             "ran. The x1 rows are measured interleaved (in-process, then HTTP, query by query). In-process xN: N "
             "threads on one index under one lock (as IndexService): their req/s is what the cores allow; their "
             "tails show how unfairly a Python lock is handed over, not the server. The in-process index keeps the "
             "view it opened with (the writer's documents are not in it).", "",
             "```", *tables(figures), "```", "",
             f"Server log: {json.dumps(figures['server'].get('log', {}))}", ""]
    path.write_text("\n".join(lines))


# main -----------------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--index", type=Path, help="an existing index (served from a temporary copy unless --in-place)")
    p.add_argument("--pdfs", type=Path, nargs="+", help="build an index of these PDFs / folders first")
    p.add_argument("--max-docs", type=int, default=None, help="only the first N PDFs of --pdfs "
                   "(from the dev set: the four filings of bench_ingest.py first)")
    p.add_argument("--in-place", action="store_true", help="serve --index itself (the writer adds documents to it)")
    p.add_argument("--questions", type=Path, help="questions.jsonl (default: beside --pdfs, else the sample's)")
    p.add_argument("--clients", default="1,8,32", help="concurrency levels, comma-separated (1 is always run)")
    p.add_argument("--duration", type=float, default=6.0, help="seconds per cell")
    p.add_argument("--search-k", type=int, default=10)
    p.add_argument("--ask-k", type=int, default=6, help="hits for ask, in-process and over HTTP (the API's default)")
    p.add_argument("--generator", default=None, help="passed to `mmrag serve --generator` and the in-process index")
    p.add_argument("--no-writer", action="store_true", help="skip the phase with `mmrag index` running")
    p.add_argument("--writer-pdfs", type=Path, nargs="+", default=[SAMPLE],
                   help="PDFs each writer round copies under new names (default: the sample corpus)")
    p.add_argument("--writer-workers", type=int, default=None, help="`mmrag index --workers` of the writer")
    p.add_argument("--writer-timeout", type=float, default=600, help="seconds to wait for the last writer round")
    p.add_argument("--label", default=None, help="name in the result file (default: from the corpus)")
    p.add_argument("--out", type=Path, default=None, help="result JSON (default: RESULTS_DIR/serve-DATE-LABEL"
                   ".json; a .md with the tables goes beside it)")
    add_results_dir_option(p)
    p.add_argument("--json", action="store_true", help="print the JSON report (progress goes to stderr)")
    args = p.parse_args(argv)
    args.clients = sorted({1, *(int(c) for c in args.clients.split(",") if c)})
    quiet = args.json
    if args.index and args.pdfs:
        p.error("give --index or --pdfs, not both")
    started = machine()
    report: dict[str, Any] = {}
    work = Path(tempfile.mkdtemp(prefix="bench_serve_"))
    server: Server | None = None
    index: Any = None
    try:
        # the index ----------------------------------------------------------------------------------------------
        if args.index:
            if args.in_place:
                idx_dir = args.index
            else:
                idx_dir = work / "idx"
                shutil.copytree(args.index, idx_dir, ignore=shutil.ignore_patterns("*.lock"))
            source, build_s = f"existing index {args.index}" + ("" if args.in_place else " (a copy)"), None
            label = args.label or f"index-{args.index.name}"
            questions_file = args.questions or SAMPLE / "questions.jsonl"
        else:
            pdfs = pdf_files(args.pdfs or [SAMPLE], args.max_docs)
            if not pdfs:
                p.error("no PDFs found")
            idx_dir = work / "idx"
            say(f"indexing {len(pdfs)} PDFs into {idx_dir} ...", quiet)
            t0 = time.perf_counter()
            proc = subprocess.run(mmrag_cmd("index", *map(str, pdfs), "--index", str(idx_dir)), env=ENV,
                                  capture_output=True, text=True)
            build_s = round(time.perf_counter() - t0, 1)
            if proc.returncode not in (0, 1):
                sys.exit(f"mmrag index failed ({proc.returncode}): {proc.stderr[-2000:]}")
            source = f"{len(pdfs)} PDFs: {', '.join(f.name for f in pdfs)}"
            base = (args.pdfs or [SAMPLE])[0]
            folder = base if base.is_dir() else base.parent
            near = next((q for q in (folder / "questions.jsonl", folder.parent / "questions.jsonl") if q.is_file()),
                        SAMPLE / "questions.jsonl")
            questions_file = args.questions or near
            if args.label:
                label = args.label
            elif not args.pdfs:
                label = "sample"
            else:
                name = "devset" if folder.resolve() == (DEVSET / "pdfs").resolve() else folder.name
                label = name + (f"-{len(pdfs)}docs" if args.max_docs else "")
        questions = load_questions(questions_file)
        report["label"] = label
        report["questions"] = {"file": str(questions_file), "n": len(questions)}
        report["settings"] = {"duration_s": args.duration, "clients": args.clients, "search_k": args.search_k,
                              "ask_k": args.ask_k, "generator": args.generator or "default (auto: extractive here)",
                              "in_process_threads": "one index shared under one lock, as IndexService"}

        # the server and the in-process baseline -----------------------------------------------------------------
        server = Server(idx_dir, work / "serve.log", args.generator)
        say(f"mmrag serve on port {server.port}: up in {server.start_s:.1f} s", quiet)
        import mmrag
        from mmrag.pipelines.index import open_index  # what mmrag.open_index wraps, with settings overrides

        index = open_index(idx_dir, create=False, read_only=True, overrides={"generator.backend": args.generator}) \
            if args.generator else mmrag.open_index(str(idx_dir), create=False, read_only=True)
        _ = index.channels, index.generator
        info = index.inspect()
        report["corpus"] = {"source": source, "index": str(idx_dir), "build_s": build_s,
                            "documents": info["documents"], "pages": info["pages"], "elements": info["elements"],
                            "channels": sorted(index.channels), "disabled": dict(index.disabled),
                            "generator": type(index.generator).__name__}
        report["server"] = {"command": shlex.join(server.command[1:]), "start_s": round(server.start_s, 1)}
        say(f"{info['documents']} documents, {info['pages']} pages; {len(questions)} questions; channels "
            f"{sorted(index.channels)}; generator {type(index.generator).__name__}; {args.duration:g} s per cell",
            quiet)
        for q in questions[:20]:  # warm both paths: tokenizer, SQLite pages, the server's thread pool
            index.ask(q, k=args.ask_k)
            server.get("/api/search?" + urlencode({"q": q, "k": args.search_k}))
        report["phases"] = {}

        # idle ---------------------------------------------------------------------------------------------------
        say("idle phase (no writer):", quiet)
        say("  " + HEADER, quiet)
        cells = run_phase("idle", args, questions, server, index, None, quiet)
        report["phases"]["idle"] = {"cells": cells, "overhead": overhead(cells)}

        # with a writer ------------------------------------------------------------------------------------------
        if not args.no_writer:
            sources = pdf_files(args.writer_pdfs)
            docs_before = server.documents()
            writer = Writer(idx_dir, sources, work / "writer", args.writer_workers)
            say(f"writer phase: `mmrag index` rounds of {len(sources)} new PDFs each, while the load runs:", quiet)
            say("  " + HEADER, quiet)
            writer.start()
            cells = run_phase("writer", args, questions, server, index, writer, quiet)
            load_end = writer.now()
            docs_at_load_end = server.documents()
            say("  waiting for the writer's last round ...", quiet)
            finished = writer.stop(args.writer_timeout)
            last_end = writer.now()
            added = sum(r.get("added") or 0 for r in writer.runs)
            expected = docs_before + added
            seen_after = None
            deadline = time.monotonic() + 120
            docs_after = server.documents()
            while docs_after < expected and time.monotonic() < deadline:
                time.sleep(0.25)
                docs_after = server.documents()
            if docs_after >= expected:
                seen_after = round(writer.now() - last_end, 2)
            searchable = new_docs_searchable(server, writer, questions[0])
            report["phases"]["writer"] = {
                "cells": cells, "overhead": overhead(cells),
                "writer": {"runs": writer.runs, "sources": [str(s) for s in sources], "docs_before": docs_before,
                           "docs_added": added, "docs_expected": expected,
                           "docs_at_load_end": docs_at_load_end, "docs_after": docs_after,
                           "seen_after_s": seen_after, "new_doc_searchable": searchable,
                           "load_ended_s": round(load_end, 2), "last_round_finished_by_itself": finished},
            }

        # goals --------------------------------------------------------------------------------------------------
        over = {f"{ph} {e}": d["overhead"].get(e, {}).get("overhead_p50_ms") for ph, d in report["phases"].items()
                for e in ("search", "ask")}
        errs = {ph: sum(c["errors"] for c in d["cells"].values() if c["mode"] == "http" and
                        c["clients"] == GOAL_CLIENTS) for ph, d in report["phases"].items()
                if GOAL_CLIENTS in args.clients}
        report["goals"] = {
            "overhead_p50_ms": over, "errors_at_32": errs,
            "overhead_ok": all(v is not None and v < GOAL_OVERHEAD_MS for v in over.values()),
            "errors_ok": bool(errs) and all(v == 0 for v in errs.values()),
            "all_http_errors": {ph: sum(c["errors"] for c in d["cells"].values() if c["mode"] == "http")
                                for ph, d in report["phases"].items()},
        }
        report["goals"]["met"] = report["goals"]["overhead_ok"] and report["goals"]["errors_ok"]
        report["server"]["rss_mb_end"] = server.rss_mb()
    finally:
        if index is not None:
            index.close()
        if server is not None:
            rc = server.stop()
            report.setdefault("server", {}).update(exit_code=rc, log=server.log_counts(),
                                                  log_tail=server.log_tail(1500))
        shutil.rmtree(work, ignore_errors=True)

    figures = {"phases": report["phases"], "goals": report["goals"], "server": report["server"]}
    setup = {"questions": report["questions"], "settings": report["settings"], "corpus": report["corpus"]}
    writer = "" if args.no_writer else ", idle and while `mmrag index` adds documents (a writer)"
    compared = (f"HTTP requests to `mmrag serve` against the same calls in-process (MMIndex.search / .ask on the same "
                f"index), search and ask, at {', '.join(map(str, args.clients))} clients{writer}; the overhead is "
                f"HTTP p50 minus in-process p50 at 1 client, measured interleaved query by query")
    if args.out or args.results_dir:
        out = write_result("serve", report["label"], figures, compared=compared, setup=setup, machine_info=started,
                           out=args.out, results_dir=args.results_dir)
        result = json.loads(out.read_text())
        write_markdown(result, out.with_suffix(".md"))
        wrote = f"wrote {out} and {out.with_suffix('.md').name}"
    else:
        wrote = "no result file written (--results-dir '')"
    if args.json:
        print(json.dumps({"label": report["label"], "setup": setup, "figures": figures}, indent=2))
    else:
        print()
        print("\n".join(tables(figures)))
        print(f"\n{wrote}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

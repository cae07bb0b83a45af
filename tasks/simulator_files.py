"""The robot simulator's screenshots and logs (tasks/simulator.py), kept on disk.

- `screenshot(...)` draws a plausible app window as a PNG in pure Python (zlib): a title bar
  with the app's name, a menu bar, a table of the rows the run processed, and a status line with
  the app, the robot, the run time and the result.
- `log_text(...)` writes the run's log as a Yingdao robot would: one timestamped line per step.
- `FileStore` keeps both under a directory (`var/simulator/` for `make demo`), so the logs of
  earlier runs still show their screenshot and log after the simulator restarts.
"""

from __future__ import annotations

import random
import re
import struct
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path

from tasks import simulator_glyphs

Colour = tuple[int, int, int]

CONTENT_TYPES = {".png": "image/png", ".txt": "text/plain; charset=utf-8"}
# Only names the simulator itself makes (a run id and an extension): nothing else is served.
SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}\.(png|txt)$")


class Canvas:
    """An RGB image in a bytearray, with the two things a window needs: rectangles and text."""

    def __init__(self, width: int, height: int, background: Colour):
        self.width, self.height = width, height
        self.pixels = bytearray(bytes(background) * (width * height))

    def rect(self, x: int, y: int, w: int, h: int, colour: Colour) -> None:
        x0, x1 = max(0, x), min(self.width, x + w)
        if x1 <= x0:
            return
        span = bytes(colour) * (x1 - x0)
        for row in range(max(0, y), min(self.height, y + h)):
            start = (row * self.width + x0) * 3
            self.pixels[start : start + len(span)] = span

    def text(self, x: int, y: int, text: str, colour: Colour, scale: int = 2) -> int:
        """Draws `text` with its top-left corner at (x, y); returns the x after it."""
        for char in text:
            for px, py in simulator_glyphs.pixels(char):
                self.rect(x + px * scale, y + py * scale, scale, scale, colour)
            x += (simulator_glyphs.WIDTH + 1) * scale
        return x

    def png(self) -> bytes:
        def chunk(kind: bytes, data: bytes) -> bytes:
            body = kind + data
            return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

        stride = self.width * 3
        raw = b"".join(b"\x00" + bytes(self.pixels[row * stride : (row + 1) * stride]) for row in range(self.height))
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")


@dataclass(frozen=True)
class RunPicture:
    """What the screenshot shows of one run."""

    run_id: str
    app_name: str
    account: str
    started: datetime
    ended: datetime
    total: int
    failed_items: int
    failed: bool
    error: str | None


WHITE, INK, MUTED = (255, 255, 255), (40, 44, 52), (110, 116, 128)
OK, BAD = (30, 140, 70), (200, 50, 50)


CHAR_STEP = (simulator_glyphs.WIDTH + 1) * 2  # a character's advance at the default scale


def _fit(text: str, chars: int) -> str:
    """`text` cut to `chars` characters (ending in "..." when cut)."""
    return text if len(text) <= chars else text[: max(chars - 3, 0)] + "..."


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def screenshot(run: RunPicture, width: int = 960, height: int = 480) -> bytes:
    """A PNG of the app's window at the end of the run."""
    rng = random.Random(run.run_id)
    canvas = Canvas(width, height, (58, 80, 107))  # the desktop
    left, top, w, h = 16, 16, width - 32, height - 32
    canvas.rect(left, top, w, h, WHITE)
    canvas.rect(left, top, w, 30, (36, 99, 188))  # title bar
    canvas.text(left + 10, top + 8, _fit(f"{run.app_name} - {run.account} - Yingdao RPA", (w - 90) // CHAR_STEP), WHITE)
    for n, colour in enumerate(((232, 76, 61), (241, 196, 15), (46, 204, 113))):
        canvas.rect(left + w - 24 - n * 20, top + 9, 12, 12, colour)
    canvas.rect(left, top + 30, w, 24, (236, 239, 244))  # menu bar
    canvas.text(left + 10, top + 36, "File   Edit   View   Run   Help", INK)
    columns = [("#", 40), ("Order ID", 150), ("Customer", 190), ("Amount", 130), ("Status", 0)]
    y = top + 64
    canvas.rect(left + 8, y, w - 16, 24, (214, 222, 235))
    x = left + 16
    for title, span in columns:
        canvas.text(x, y + 6, title, INK)
        x += span
    shown = min(run.total, 11)
    bad_rows = set(rng.sample(range(shown), min(run.failed_items, shown)))
    for n in range(shown):
        y += 26
        canvas.rect(left + 8, y, w - 16, 26, (247, 249, 252) if n % 2 else WHITE)
        failed_row = n in bad_rows
        cells = [
            str(n + 1),
            f"SO{rng.randint(10_000_000, 99_999_999)}",
            rng.choice(["Hangzhou Li", "Shanghai Wang", "Beijing Zhao", "Shenzhen Chen", "Chengdu Liu", "Wuhan Zhou"]),
            f"{rng.randint(20, 9_999)}.{rng.randint(0, 99):02d}",
        ]
        x = left + 16
        for cell, (_title, span) in zip(cells, columns, strict=False):
            canvas.text(x, y + 7, cell, INK)
            x += span
        canvas.text(x, y + 7, "FAILED" if failed_row else "OK", BAD if failed_row else OK)
    status_y = top + h - 28
    canvas.rect(left, status_y, w, 28, (236, 239, 244))
    outcome = "FAILED" if run.failed else "COMPLETED"
    outcome_x = left + w - 10 - len(outcome) * CHAR_STEP
    line = (
        f"{_fit(run.app_name, 24)}  run {_clock((run.ended - run.started).total_seconds())}  "
        f"{run.total} items, {run.failed_items} failed"
    )
    canvas.text(left + 10, status_y + 7, _fit(line, (outcome_x - left - 20) // CHAR_STEP), MUTED)
    canvas.text(outcome_x, status_y + 7, outcome, BAD if run.failed else OK)
    return canvas.png()


def log_text(run: RunPicture, zone: tzinfo = UTC) -> str:
    """The run's log: timestamped steps (in the robot's zone), a warning per failed item (a few), the end."""
    rng = random.Random(run.run_id + "log")
    span = max((run.ended - run.started).total_seconds(), 1.0)
    steps = [
        ("INFO", f"robot {run.account} starts {run.app_name} (run {run.run_id})"),
        ("INFO", "opening the app window"),
        ("INFO", "signing in as the robot's service account"),
        ("INFO", "signed in; loading the order list"),
        ("INFO", f"{run.total} rows to process"),
    ]
    for batch in range(0, run.total, 50):
        steps.append(("INFO", f"processed rows {batch + 1}-{min(batch + 50, run.total)}"))
    for _n in range(min(run.failed_items, 5)):
        steps.append(("WARN", f"row {rng.randint(1, run.total)}: {rng.choice(['element not found', 'value rejected', 'page timed out'])}, skipped"))
    if run.failed:
        steps.append(("ERROR", run.error or "the run failed"))
        steps.append(("INFO", f"screenshot saved ({run.run_id}.png); run ended: failed"))
    else:
        steps.append(("INFO", f"exported {run.total - run.failed_items} rows"))
        steps.append(("INFO", f"screenshot saved ({run.run_id}.png); run ended: completed"))
    lines = []
    for n, (level, text) in enumerate(steps):
        moment = run.started.astimezone(zone) + timedelta(seconds=span * n / max(len(steps) - 1, 1))
        lines.append(f"{moment:%Y-%m-%d %H:%M:%S%z} {level:<5} {text}")
    return "\n".join(lines) + "\n"


class FileStore:
    """The simulator's files on disk, named `<run id>.png|.txt`; survives restarts."""

    def __init__(self, root: Path, zone: tzinfo = UTC):
        self.root, self.zone = Path(root), zone
        self.root.mkdir(parents=True, exist_ok=True)

    def save(self, name: str, content: bytes) -> None:
        if not SAFE_NAME.match(name):
            raise ValueError(f"not a simulator file name: {name!r}")
        partial = self.root / (name + ".part")
        partial.write_bytes(content)
        partial.replace(self.root / name)  # readers never see half a file

    def read(self, name: str) -> tuple[str, bytes] | None:
        """(content type, bytes), or None for a name the simulator did not make."""
        if not SAFE_NAME.match(name):
            return None
        path = self.root / name
        try:
            content = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            return None
        return CONTENT_TYPES[path.suffix], content

    def save_run(self, run: RunPicture) -> None:
        self.save(f"{run.run_id}.png", screenshot(run))
        self.save(f"{run.run_id}.txt", log_text(run, self.zone).encode())

"""Looking at a page in headless Chromium as an operator would: what is wrong with its layout,
and where its screenshots go.

`layout_problems(page)` reports, for the page on screen:
- the page wider than the screen;
- a table column cut off: a header cell ending right of the screen or of the scrolling box
  around its table (a column the operator would have to scroll sideways to find);
- a cell whose content spills out of it (a badge over the next column);
- a word broken inside: a run of letters, digits and `_.:@/-` (a name, an IP, a date, a
  status) laid out over more than one line — "Runnin g", "192.16 8.50.2 1". Runs longer than
  LONGEST_TOKEN characters (URLs, UUIDs) may wrap: no screen can be asked to fit them.

Screenshots are written to a temporary directory and copied under `var/screenshots/` when the
test fails (CI keeps that directory as an artefact), or always with RPA_KEEP_SCREENSHOTS=1.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from django.conf import settings

LONGEST_TOKEN = 40
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"

_LAYOUT_SCRIPT = """
(longest) => {
  const problems = [];
  const vw = window.innerWidth;
  const root = document.querySelector('#content') || document.body;
  const overflow = document.documentElement.scrollWidth - vw;
  if (overflow > 0) problems.push(`the page is ${overflow}px wider than the ${vw}px screen`);
  const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const scroller = (el) => {
    for (let box = el.parentElement; box && box !== document.body; box = box.parentElement) {
      if (/(auto|scroll|hidden)/.test(getComputedStyle(box).overflowX)) return box;
    }
    return null;
  };
  for (const table of root.querySelectorAll('table')) {
    if (!visible(table)) continue;
    const box = scroller(table);
    const limit = Math.min(vw, box ? box.getBoundingClientRect().right : vw);
    for (const cell of table.querySelectorAll('th, td')) {
      if (!visible(cell)) continue;
      const label = (cell.innerText || '').trim().slice(0, 30);
      const right = cell.getBoundingClientRect().right;
      if (cell.tagName === 'TH' && right > limit + 1) {
        problems.push(`column "${label}" is cut off: it ends at ${Math.round(right)}px, the visible part at ${Math.round(limit)}px`);
      }
      if (cell.scrollWidth > cell.clientWidth + 2 && getComputedStyle(cell).overflowX === 'visible') {
        problems.push(`"${label}" spills out of its cell (${cell.scrollWidth}px in ${cell.clientWidth}px)`);
      }
    }
  }
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const token = /[A-Za-z0-9][A-Za-z0-9_.:@\\/-]*[A-Za-z0-9]/g;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!el || !visible(el) || el.closest('pre, textarea, select, option, script, style')) continue;
    for (const match of node.data.matchAll(token)) {
      if (match[0].length > longest) continue;
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
      if (lines.size > 1) {
        const where = el.closest('td, th, div, li, h1, h2');
        const name = where ? `${where.tagName.toLowerCase()}${where.id ? '#' + where.id : ''}.${where.className}` : '?';
        problems.push(`"${match[0]}" is broken over ${lines.size} lines (in ${name})`);
      }
    }
  }
  return [...new Set(problems)];
}
"""


def layout_problems(page) -> list[str]:
    return page.evaluate(_LAYOUT_SCRIPT, LONGEST_TOKEN)


def shot_name(language: str, width: int, path: str) -> str:
    """`zh-hans_390_admin_jobs_job.png` for /admin/jobs/job/ at 390 px in Chinese."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", path.split("?")[0]).strip("_") or "root"
    if "?" in path:
        slug += "_" + re.sub(r"[^A-Za-z0-9]+", "_", path.split("?", 1)[1])[:40]
    return f"{language}_{width}_{slug}.png"


def keep_screenshots(directory: Path, test_name: str, failed: bool) -> Path | None:
    """Copy the screenshots under var/screenshots/<test>/ when the test failed (or when asked)."""
    if not failed and os.environ.get("RPA_KEEP_SCREENSHOTS") != "1":
        return None
    target = SCREENSHOTS / test_name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(directory, target)
    return target

"""``ptfuzz show FILE [--html OUT] [--full] [--width N] [--threads T0,K0]``: a
reproducer's run as swim lanes (:mod:`fuzz.show`), in the terminal and optionally as a
self-contained HTML page."""

from __future__ import annotations

import os
import shutil

from core.program.kprog import KprogError, dumps, load

from .errors import UsageError
from .paths import writable_file
from .show import escape, lanes, only, render_html, render_text, show_run

__all__ = ["run_show_command"]


def run_show_command(args) -> int:
    try:
        prog = load(args.file)
    except KprogError as e:
        raise UsageError(str(e)) from None
    width = args.width if args.width is not None else shutil.get_terminal_size((100, 24)).columns
    if width < 40:
        raise UsageError("--width must be at least 40")
    if args.html:
        writable_file(args.html, "--html")
    out, notes = show_run(prog)
    ln = lanes(out, notes, prog.comments)
    shown = ln
    if args.threads:
        try:
            shown = only(ln, [t.strip() for t in args.threads.split(",") if t.strip()])
        except ValueError as e:
            raise UsageError(str(e)) from None
    print(render_text(shown, width, args.full))
    if out.drift is not None:
        print(f"{out.drift.message()}; continued with the default choices")
    if args.html:
        if os.path.dirname(args.html):
            os.makedirs(os.path.dirname(args.html), exist_ok=True)
        tmp = args.html + ".tmp"
        with open(tmp, "w") as fh:
            fh.write(render_html(ln, escape(dumps(prog)), args.full))
        os.replace(tmp, args.html)
        print(f"written to {args.html}")
    return 0

"""``ptfuzz show``: swim lanes in the terminal (fits 100 columns for three threads) and as
a self-contained HTML page (checked structurally)."""

import os
from html.parser import HTMLParser

from core.program.kprog import load
from core.program.program import run_program
from fuzz.cli import main
from fuzz.show import lanes, render_text

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RETRACT = os.path.join(ROOT, "corpus", "regressions", "retract-no-pmd-recheck.kprog")
THREE = os.path.join(ROOT, "corpus", "seeds", "free-vs-fault.kprog")
VOID = {"meta", "br", "hr", "img", "input", "link"}


class _Checker(HTMLParser):
    """Tag balance, the table's shape, and every resource a page could fetch."""

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.fetches = [], [], []
        self.header, self.rows, self.in_head_row = [], 0, False
        self.text = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("src", "href"):
            if key in attrs:
                self.fetches.append(attrs[key])
        if tag in ("script", "link", "iframe", "img"):
            self.fetches.append(tag)
        if tag == "tr":
            self.rows += 1
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        if self.stack and self.stack[-1] == "th":
            self.header.append(data)
        self.text.append(data)


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _header(lines):
    """The lanes' header line of the terminal view (after the story)."""
    return lines[next(i for i, x in enumerate(lines) if x.startswith("threads (setup:")) + 1]


def test_html_is_a_balanced_self_contained_page_with_one_row_per_step(capsys, tmp_path):
    page = tmp_path / "retract.html"
    code, out, _ = _run(capsys, "show", RETRACT, "--html", str(page), "--full")
    assert code == 0 and f"written to {page}" in out
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>")
    c = _Checker()
    c.feed(text)
    c.close()
    assert c.errors == [] and c.stack == []
    assert c.fetches == [] and "http" not in text and "url(" not in text
    outcome = run_program(load(RETRACT))
    ln = lanes(outcome)
    assert c.header == ["step"] + ln.names
    assert ln.names[:2] == ["T0", "T1"]
    assert c.rows == 1 + outcome.nsteps - outcome.start     # the header row, then a step each
    body = "".join(c.text)
    assert "<details>" not in text                         # --full: nothing folded
    assert "general protection fault in pte_lockptr" in body
    assert body.index("Story") < body.index("Threads") < body.index("Program")
    assert "!! retract_page_tables:pte_lockptr" in body      # where the report fired
    assert ">> " in body and "<< " in body                    # the preemption and the resume


def test_the_html_page_folds_long_unmarked_stretches(capsys, tmp_path):
    page = tmp_path / "retract.html"
    assert _run(capsys, "show", RETRACT, "--html", str(page))[0] == 0
    text = page.read_text()
    c = _Checker()
    c.feed(text)
    c.close()
    assert c.errors == [] and c.stack == []
    outcome = run_program(load(RETRACT))
    folds = text.count("<details>")
    assert folds == 2
    # Every step is still on the page (inside a fold), one extra row for each fold.
    assert c.rows == 1 + outcome.nsteps - outcome.start + folds


def test_the_terminal_view_fits_100_columns_for_three_threads(capsys):
    code, out, _ = _run(capsys, "show", THREE, "--width", "100")
    assert code == 0
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert _header(lines).split()[:3] == ["T0", "T1", "K0"]
    assert lines[0] == "pass"
    assert "# MADV_FREE (lazy free) against a write fault and reclaim of the page." in lines


def test_the_story_and_the_report_come_first_and_marked_steps_say_what_they_touched(capsys):
    f = os.path.join(ROOT, "corpus", "regressions", "pt-reclaim-semi-rcu.kprog")
    code, out, _ = _run(capsys, "show", f, "--width", "110")
    lines = out.splitlines()
    assert lines[:4] == [
        "BUG: KASAN: use-after-free Read in handle_pte_fault",
        "    thread: T0 at handle_pte_fault:ptep_get_lockless",
        "    access      : Read of pte table #4 by T0 at handle_pte_fault:ptep_get_lockless",
        "    object      : pte table #4 (quarantined, freed)"]
    assert lines.index("# story:") < lines.index(_header(lines))
    # The freeing step, T1's last touch of the table (its clearing write under ptl), the
    # faulting read, each with what it touched and the locks held.
    assert "  96                                                     F "\
        "__tlb_remove_table_one:__tlb_remove_table" in lines
    assert "  91                                                     o zap_pte_range:spin_unlock" \
        in lines
    assert "       touched read pte table #4 (quarantined, freed); holding no lock" in lines
    assert lines[-4].startswith(" 103 <<*!! handle_pte_fault:ptep_get_lockless")


def test_a_cell_keeps_the_function_whole():
    from fuzz.show import _cell
    site = "collapse_pte_mapped_thp:mmu_notifier_invalidate_range_start"
    assert _cell(site, 40) == "collapse_pte_mapped_thp:mmu_noti~e_start"
    # No room for the whole function: the middle of the whole name goes.
    assert _cell(site, 12) == "colla~_start"


def test_a_report_marks_its_access_free_and_preemption_rows():
    outcome = run_program(load(RETRACT))
    ln = lanes(outcome)
    marked = {m: r for r in ln.rows for m in r.marks}
    assert marked["report"].index == outcome.nsteps - 1
    assert ln.names[marked["preempt"].lane] == "T1"
    assert ln.names[marked["resume"].lane] == "T0"
    text = render_text(ln, 100)
    assert "... " in text and " steps ..." in text             # long stretches folded
    assert len(render_text(ln, 100, full=True).splitlines()) > len(text.splitlines())


def test_show_usage_errors_exit_2(capsys):
    code, _, err = _run(capsys, "show", "/nonexistent.kprog")
    assert code == 2 and "/nonexistent.kprog" in err
    code, _, err = _run(capsys, "show", RETRACT, "--width", "10")
    assert code == 2 and "--width must be at least 40" in err


NO_RESCAN = os.path.join(ROOT, "corpus", "async-reclaim", "async-reclaim-no-rescan.kprog")


def test_threads_shows_chosen_lanes_and_folds_the_others_keeping_their_marks(capsys):
    assert main(["show", NO_RESCAN, "--threads", "T0,K0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert _header(lines).split() == ["T0", "K0"]
    assert "     (6 steps of rcu_cb, rcu_gp)" in lines
    assert "     (70 steps of teardown)" in lines
    assert lines[-3] == " 305 !! teardown: mmdrop:atomic_dec_and_test"
    assert main(["show", NO_RESCAN, "--threads", "T0,T9"]) == 2
    err = capsys.readouterr().err
    assert err == ("ptfuzz: error: no thread T9 in this run "
                   "(threads: T0, K0, rcu_gp, rcu_cb, teardown)\n")

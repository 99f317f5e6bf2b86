"""The campaign directory, written by the head alone, every file atomically (written
beside, then renamed), so a crash or a kill never leaves half a file:

    campaign.json             what the campaign is (seed, portfolio, switches, config)
                              and the next work item (for resuming)
    coverage.json             the sites and site pairs (by name) the campaign reached
    corpus/<driver>/...       interesting inputs: .kprog files that reached new site
                              pairs, libFuzzer's raw inputs (corpus/atheris/)
    crashes/<title-slug>/     reproducer.kprog (minimized), report.txt, first.raw.kprog,
                              counts.json (how often, first when, by which item)
    stats.jsonl               one line a second: executions, steps, coverage, reports,
                              per driver
    summary.json, summary.md  at the end
"""

from __future__ import annotations

import hashlib
import json
import os

from ..errors import UsageError
from ..findings import slug

__all__ = ["CampaignDir", "atomic_write"]


def atomic_write(path: str, data: bytes | str) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as fh:
        fh.write(data.encode() if isinstance(data, str) else data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


# What campaign.json must hold, and of which type, for a resume to trust it.
_META_TYPES = {"seed": int, "portfolio": list, "bugs": list, "configs": list,
               "next_item": int}


def _check_meta(path: str, meta) -> None:
    if not isinstance(meta, dict):
        raise UsageError(f"{path}: not a campaign description (a JSON object)")
    for key, kind in _META_TYPES.items():
        if not isinstance(meta.get(key), kind) or isinstance(meta.get(key), bool):
            raise UsageError(f"{path}: not a campaign description ({key!r} missing or not "
                             f"{'an integer' if kind is int else 'a list'})")
    if meta["next_item"] < 0 or not all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], str)
            and isinstance(p[1], int) and p[1] >= 1 for p in meta["portfolio"]):
        raise UsageError(f"{path}: not a campaign description (bad portfolio or next_item)")
    totals = meta.get("totals", {})
    if not isinstance(totals, dict) or not all(
            isinstance(r, dict) and isinstance(r.get("executions"), int)
            and isinstance(r.get("steps"), int) for r in totals.values()):
        raise UsageError(f"{path}: not a campaign description (bad totals)")
    if not isinstance(meta.get("seconds", 0.0), (int, float)):
        raise UsageError(f"{path}: not a campaign description (bad seconds)")


_COUNTS_TYPES = {"count": int, "first_seconds": (int, float), "first_item": int,
                 "driver": str, "executions": int}


class CampaignDir:
    def __init__(self, path: str):
        self.path = path

    def file(self, *parts) -> str:
        return os.path.join(self.path, *parts)

    # -- what the campaign is, and resuming ----------------------------------------

    def load_or_create(self, meta: dict) -> dict:
        """The stored description (resuming) or ``meta`` (a new campaign). A directory
        that holds another campaign (other switches or config) is a usage error."""
        path = self.file("campaign.json")
        if os.path.exists(path):
            try:
                with open(path, encoding="utf-8") as fh:
                    old = json.load(fh)
            except (OSError, ValueError) as e:
                raise UsageError(f"{path}: not a campaign description ({e})") from None
            _check_meta(path, old)
            for key in ("bugs", "configs"):
                if old.get(key) != meta.get(key):
                    raise UsageError(f"{self.path} holds a campaign with {key} "
                                     f"{old.get(key)}, not {meta.get(key)}: use another --dir")
            old["resumed"] = old.get("resumed", 0) + 1
            self.save_meta(old)
            return old
        if os.path.exists(self.path) and os.listdir(self.path):
            raise UsageError(f"{self.path} exists and is not a campaign directory")
        meta = dict(meta, next_item=0, resumed=0)
        self.save_meta(meta)
        return meta

    def save_meta(self, meta: dict) -> None:
        atomic_write(self.file("campaign.json"), json.dumps(meta, indent=2) + "\n")

    def known_crashes(self) -> dict:
        """title -> counts.json of every crash folder (resuming)."""
        out = {}
        folder = self.file("crashes")
        if not os.path.isdir(folder):
            return out
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name, "counts.json")
            try:
                with open(path, encoding="utf-8") as fh:
                    counts = json.load(fh)
            except (OSError, ValueError):
                continue
            if not (isinstance(counts, dict) and isinstance(counts.get("title"), str)
                    and all(isinstance(counts.get(k), t) for k, t in _COUNTS_TYPES.items())):
                continue            # not ours, or damaged: the folder's files stay as they are
            out[counts["title"]] = counts
        return out

    # -- crashes ---------------------------------------------------------------------

    def crash_folder(self, title: str) -> str:
        return self.file("crashes", slug(title))

    def write_crash(self, title: str, raw: str, report: str, counts: dict,
                    reproducer: str | None) -> str:
        folder = self.crash_folder(title)
        atomic_write(os.path.join(folder, "first.raw.kprog"), raw)
        atomic_write(os.path.join(folder, "report.txt"), report + "\n")
        if reproducer is not None:
            atomic_write(os.path.join(folder, "reproducer.kprog"), reproducer)
        self.write_counts(title, counts)
        return os.path.join(folder, "reproducer.kprog" if reproducer else "first.raw.kprog")

    def write_counts(self, title: str, counts: dict) -> None:
        atomic_write(os.path.join(self.crash_folder(title), "counts.json"),
                     json.dumps(dict(counts, title=title), indent=2) + "\n")

    # -- the corpus ------------------------------------------------------------------

    def add_input(self, driver: str, name: str | None, data: bytes) -> bool:
        """Store an input (named by its hash unless named); False if already there."""
        if name is None:
            name = hashlib.blake2b(data, digest_size=8).hexdigest() + ".kprog"
        path = self.file("corpus", os.path.basename(driver), os.path.basename(name))
        if os.path.exists(path):
            return False
        atomic_write(path, data)
        return True

    def atheris_corpus(self, limit: int = 500) -> list:
        """The newest raw libFuzzer inputs as (name, bytes)."""
        folder = self.file("corpus", "atheris")
        if not os.path.isdir(folder):
            return []
        names = sorted(os.listdir(folder), key=lambda n: os.path.getmtime(
            os.path.join(folder, n)))[-limit:]
        out = []
        for n in names:
            with open(os.path.join(folder, n), "rb") as fh:
                out.append((n, fh.read()))
        return out

    def corpus_files(self) -> list:
        folder = self.file("corpus")
        out = []
        for dirpath, _dirs, files in os.walk(folder):
            out += [os.path.join(dirpath, f) for f in sorted(files) if ".tmp" not in f]
        return sorted(out)

    # -- coverage ----------------------------------------------------------------------

    def load_coverage(self) -> dict:
        """The stored coverage, or none if the file is missing or not what it should be
        (coverage is a guide, not a result: starting it over loses no finding)."""
        try:
            with open(self.file("coverage.json"), encoding="utf-8") as fh:
                cov = json.load(fh)
        except (OSError, ValueError):
            return {}
        ok = (isinstance(cov, dict) and isinstance(cov.get("sites", []), list)
              and isinstance(cov.get("pairs", []), list)
              and all(isinstance(s, str) for s in cov.get("sites", []))
              and all(isinstance(p, list) and len(p) == 2 and all(isinstance(x, str)
                                                                  for x in p)
                      for p in cov.get("pairs", [])))
        return cov if ok else {}

    def save_coverage(self, sites: list, pairs: list) -> None:
        atomic_write(self.file("coverage.json"),
                     json.dumps({"sites": sites, "pairs": pairs}, separators=(",", ":")))

    # -- statistics and the summary --------------------------------------------------

    def append_stats(self, record: dict) -> None:
        # One short line per append: a reader never sees half a record unless the
        # machine dies mid-write, and then only the last line.
        with open(self.file("stats.jsonl"), "a") as fh:
            fh.write(json.dumps(record, separators=(",", ":")) + "\n")

    def write_summary(self, summary: dict, markdown: str) -> None:
        atomic_write(self.file("summary.json"), json.dumps(summary, indent=2) + "\n")
        atomic_write(self.file("summary.md"), markdown + "\n")

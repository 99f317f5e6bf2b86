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

import errno
import fcntl
import hashlib
import json
import os
import re

from ..errors import UsageError
from ..findings import slug

__all__ = ["CampaignDir", "atomic_write", "DiskError", "DISK_ERRNOS"]

# Errors that mean the disk, not the campaign, is at fault: stop cleanly, keep what is
# written, resume later.
DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EFBIG}


class DiskError(Exception):
    """The campaign directory cannot be written (full, read-only, failing)."""


def atomic_write(path: str, data: bytes | str) -> bool:
    """Write ``path`` whole or not at all (beside it, then renamed); nothing is written
    when the file already holds exactly ``data``. A full disk leaves no ``.tmp`` file
    behind and raises :class:`DiskError`. True if the file was written."""
    data = data.encode() if isinstance(data, str) else data
    try:
        with open(path, "rb") as fh:
            if fh.read(len(data) + 1) == data:
                return False
    except OSError:
        pass
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if e.errno in DISK_ERRNOS:
            raise DiskError(f"{path}: {e.strerror}") from None
        raise
    return True


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

    def lock(self) -> None:
        """Hold the directory for this campaign (a POSIX lock on ``campaign.lock``,
        which the kernel drops when the holder dies, even by SIGKILL, and which worker
        processes do not inherit). A second campaign on the directory is refused, naming
        the holder's PID; a stale lock file from a dead head is simply taken over."""
        os.makedirs(self.path, exist_ok=True)
        fd = os.open(self.file("campaign.lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise UsageError(f"{self.path}: another campaign (PID {holder}) is running in "
                             f"this directory") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd
        self._drop_stale_tmp()

    def _drop_stale_tmp(self) -> None:
        """Half-written files of a head killed mid-write (``NAME.tmpPID``): the lock says
        no other campaign writes here, so none of them is anybody's work in progress."""
        for dirpath, _dirs, files in os.walk(self.path):
            for name in files:
                if re.search(r"\.tmp\d+$", name):
                    os.unlink(os.path.join(dirpath, name))

    def unlock(self) -> None:
        fd = getattr(self, "_lock_fd", None)
        if fd is not None:
            os.close(fd)
            self._lock_fd = None

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
        if os.path.exists(self.path) and set(os.listdir(self.path)) - {"campaign.lock",
                                                                        ".hypothesis"}:
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
        try:
            with open(self.file("stats.jsonl"), "a") as fh:
                fh.write(json.dumps(record, separators=(",", ":")) + "\n")
        except OSError as e:
            if e.errno in DISK_ERRNOS:
                raise DiskError(f"{self.file('stats.jsonl')}: {e.strerror}") from None
            raise

    def write_summary(self, summary: dict, markdown: str) -> None:
        atomic_write(self.file("summary.json"), json.dumps(summary, indent=2) + "\n")
        atomic_write(self.file("summary.md"), markdown + "\n")

"""Operations as data: the declaration an operation is made of, and what derives from it.

An operation is a frozen dataclass deriving from :class:`Op` whose fields are declared with
the helpers below; from the declaration come its ``.kprog`` text, its parser (with one-line
errors the loader prefixes with file and line), the mappings it names, its synopsis for
``ptfuzz list``, the simpler variants the minimizer tries, and, through its :class:`Gen`
kinds, the draws that put it in generated programs. A new operation is its declaration
plus its ``run``. The shape follows syzkaller's descriptions of calls as data (sys/*.txt
read by prog/): one description, many derived uses.

Field kinds (in text order, which is the dataclass's field order):

* ``result()``          ``NAME = op ...``: the name the operation binds (mmap's mapping);
* ``addr()``            a positional ``mapping+offset`` address (``m0+3``);
* ``mapping()``         a positional mapping name;
* ``word(name, choices)`` a positional word from a closed set (an advice, a mode);
* ``key_int(...)``      ``key=N``: an integer, required or with a default;
* ``key_word(...)``     ``key=WORD`` from a closed set, with a default.

A positional field may carry ``when(in_setup, values)``: it is present only where that holds
(mmap's process, named only in the setup; its file, only for file mappings).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, ClassVar

from ..kernel.config import parse_int

__all__ = ["Addr", "OpError", "Op", "OPS", "register_op", "Gen", "Spec", "EFAULT", "NAME",
           "MAX_PAGES", "MAX_VALUE", "is_name",
           "result", "addr", "mapping", "word", "key_int", "key_word", "gen_kinds", "KINDS",
           "smaller_ints"]

EFAULT = "-EFAULT"

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")   # every name in a .kprog: ASCII, so printable
MAX_PAGES = 1 << 16          # any page count or offset: keeps a run within memory and time
MAX_VALUE = (1 << 63) - 1


def is_name(s: str) -> bool:
    return NAME.fullmatch(s) is not None


class OpError(ValueError):
    """A malformed operation (the loader adds file and line)."""


@dataclass(frozen=True)
class Addr:
    """``mapping+offset``: a page offset into a named mapping, which follows the mapping
    when mremap moves it. With ``fixed`` (written ``@m0+3``) the address that page had
    when the mapping was first mapped, which stays where it is: after mremap or munmap it
    names the old range. ``@N`` (``mapping`` empty) is virtual page number N of the
    thread's process."""

    mapping: str
    offset: int = 0
    fixed: bool = False

    def text(self) -> str:
        if not self.fixed:
            return f"{self.mapping}+{self.offset}"
        return f"@{self.mapping}+{self.offset}" if self.mapping else f"@{self.offset}"

    @staticmethod
    def parse(s: str) -> Addr:
        fixed = s.startswith("@")
        body = s[1:] if fixed else s
        if fixed and body[:1].isdigit():
            try:
                vpn = parse_int(body)
            except ValueError:
                raise OpError(f"bad page number in address {s!r}") from None
            if not 0 <= vpn < MAX_PAGES:
                raise OpError(f"page number in address {s!r} must be from 0 to "
                              f"{MAX_PAGES - 1}")
            return Addr("", vpn, True)
        name, plus, off = body.partition("+")
        if not is_name(name):
            raise OpError(f"bad address {s!r} (expected mapping+offset, like m0+3, or a fixed "
                          f"address: @m0+3, @12)")
        try:
            offset = parse_int(off) if plus else 0
        except ValueError:
            raise OpError(f"bad offset in address {s!r}") from None
        if not 0 <= offset < MAX_PAGES:
            raise OpError(f"offset in address {s!r} must be from 0 to {MAX_PAGES - 1}")
        return Addr(name, offset, fixed)


_REQUIRED: Any = dataclasses.MISSING


@dataclass(frozen=True)
class Spec:
    """How one field is written, read and shown."""

    kind: str                        # result, addr, mapping, word, int, name
    meta: str                        # its placeholder in the synopsis
    key: bool = False                # written key=value
    choices: tuple = ()
    minimum: int = 0
    maximum: int = MAX_PAGES
    always: bool = False             # a key written even at its default
    when: Callable[[bool, dict], bool] | None = None   # positional present only where true
    fixed: bool = False              # an address may be a fixed one (@m0+3, @12)

    def parse(self, name: str, s: str):
        if self.kind == "addr":
            a = Addr.parse(s)
            if a.fixed and not self.fixed:
                raise OpError(f"{name}: a fixed address ({s}) is for read and write only")
            return a
        if self.kind == "int":
            try:
                v = parse_int(s)
            except ValueError:
                raise OpError(f"{name}= takes an integer") from None
            if v < self.minimum:
                raise OpError(f"{name}= must be at least {self.minimum}")
            if v > self.maximum:
                raise OpError(f"{name}= must be at most {self.maximum}")
            return v
        if self.choices and s not in self.choices:
            raise OpError(f"{name} must be one of {', '.join(self.choices)}, not {s!r}")
        if self.kind in ("mapping", "name") and not is_name(s):
            raise OpError(f"bad {name} {s!r} (expected a name, like m0)")
        return s

    def show(self, v) -> str:
        return v.text() if isinstance(v, Addr) else str(v)


def _field(spec: Spec, default=_REQUIRED, kw_only: bool = False):
    if kw_only:
        return dataclasses.field(default=default, kw_only=True, metadata={"op": spec})
    return dataclasses.field(default=default, metadata={"op": spec})


def result():
    """``NAME = op ...``: the name the operation binds."""
    return _field(Spec("result", "NAME"))


def addr(meta: str = "M+O", fixed: bool = False):
    """An address; ``fixed``: it may also be a fixed one (``@M+O``, ``@VPN``)."""
    return _field(Spec("addr", meta + "|@M+O|@VPN" if fixed else meta, fixed=fixed))


def mapping():
    return _field(Spec("mapping", "M"))


def word(choices: tuple, meta: str = "", when=None, default=_REQUIRED, kw_only=False):
    """A positional word: one of ``choices``, or (no choices) a name (``meta`` says
    which: ``PROC``, ``FILE``)."""
    spec = Spec("word" if choices else "name", meta or "|".join(choices), choices=choices,
                when=when)
    return _field(spec, default, kw_only)


def key_int(meta: str = "N", default=_REQUIRED, minimum: int = 0, always: bool = False,
            maximum: int = MAX_PAGES):
    """``key=N``; ``default=None`` makes it optional with no value."""
    return _field(Spec("int", meta, key=True, minimum=minimum, maximum=maximum,
                       always=always), default)


def key_word(choices: tuple, default: str):
    return _field(Spec("word", "|".join(choices), key=True, choices=choices), default)


@dataclass(frozen=True)
class Gen:
    """One kind of generated operation: how the generator draws an instance.

    ``targets(scope)`` lists the mappings it may target (one is picked, the run's focus
    mostly); ``args`` gives each field a draw ``f(g)`` (see :class:`~.generate.Draw`) or
    a constant, the rest keep their defaults (an ``addr`` field defaults to an offset the
    setup touched, mostly). ``make(g)`` replaces all of that where one draw depends on
    another (a partial MADV_DONTNEED's length on its start). ``after(g)`` returns the
    operations that follow it (a GUP pin's unpin). A kind of an operation with
    ``requires`` is drawn only in runs whose config has that option on, so programs drawn
    without it, and every figure measured on them, stay as they are. ``before(g)``,
    drawn after the operation, returns the operations that precede it (UFFDIO_REGISTER
    in wp mode before a UFFDIO_WRITEPROTECT, half the time)."""

    name: str
    targets: Callable | None = None
    args: dict = dataclasses.field(default_factory=dict)
    make: Callable | None = None
    after: Callable | None = None
    before: Callable | None = None
    op: type | None = None          # set by register_op


ModelGen = Generator[Any, None, Any]


class Op:
    """An operation of a program's thread (or its setup). Subclasses declare fields with
    the helpers of this module and define ``run(env, ctx)``, a generator returning the
    operation's result (which the outcome records)."""

    name: ClassVar[str] = "op"
    user: ClassVar[bool] = True          # user threads may run it
    kthread: ClassVar[bool] = False      # kernel threads may run it
    requires: ClassVar[str | None] = None  # a boolean config option that must be on
    own: ClassVar[bool] = False          # its mappings must belong to the thread's process
    ends_thread: ClassVar[bool] = False  # nothing a thread does after it runs (exit)
    in_setup: ClassVar[bool] = True      # the setup may run it (not exit: no process)
    kinds: ClassVar[tuple] = ()          # Gen: how generated programs draw it

    def run(self, env, ctx) -> ModelGen:
        raise NotImplementedError

    # -- derived from the declaration ---------------------------------------------------

    @classmethod
    def specs(cls) -> list[tuple[str, Spec, Any]]:
        """(field name, spec, default) in text order."""
        return [(f.name, f.metadata["op"], f.default) for f in dataclasses.fields(cls)
                if "op" in f.metadata]

    @classmethod
    def synopsis(cls) -> str:
        parts = [cls.name]
        for name, spec, default in cls.specs():
            if spec.kind == "result":
                parts.insert(0, f"{spec.meta} =")
                continue
            text = f"{name}={spec.meta}" if spec.key else spec.meta
            optional = spec.when is not None or (spec.key and default is not _REQUIRED)
            parts.append(f"[{text}]" if optional else text)
        return " ".join(parts)

    @classmethod
    def describe(cls) -> str:
        """The first paragraph of the class's docstring, on one line."""
        doc = (cls.__doc__ or "").strip().split("\n\n")[0]
        return " ".join(doc.replace("``", "").split())

    def text(self) -> str:
        parts = [self.name]
        for name, spec, default in self.specs():
            v = getattr(self, name)
            if spec.kind == "result":
                parts.insert(0, f"{v} =")
            elif not spec.key:
                if v is not None:
                    parts.append(spec.show(v))
            elif default is _REQUIRED or spec.always or v != default:
                parts.append(f"{name}={spec.show(v)}")
        return " ".join(parts)

    @classmethod
    def parse(cls, result_name: str | None, args: list, kv: dict, in_setup: bool) -> Op:
        """The operation from its split line: the ``NAME =`` if any, the positional words,
        the ``key=value`` pairs (consumed)."""
        specs = cls.specs()
        values: dict[str, Any] = {}
        args = list(args)
        if any(s.kind == "result" for _, s, _ in specs):
            if result_name is None:
                raise OpError(f"{cls.name} needs a name: {cls.synopsis()}")
        elif result_name is not None:
            raise OpError(f"{cls.name} does not return a name")
        for name, spec, _ in specs:
            if spec.kind == "result":
                values[name] = result_name
            elif not spec.key:
                if spec.when is not None and not spec.when(in_setup, values):
                    continue
                if not args:
                    raise OpError(f"{cls.name} is missing its {spec.meta} "
                                  f"(usage: {cls.synopsis()})")
                values[name] = spec.parse(name, args.pop(0))
        if args:
            raise OpError(f"unexpected argument {args[0]!r} (usage: {cls.synopsis()})")
        for name, spec, default in specs:
            if not spec.key:
                continue
            if name in kv:
                values[name] = spec.parse(name, kv.pop(name))
            elif default is _REQUIRED:
                raise OpError(f"missing {name}=")
        if kv:
            raise OpError(f"unknown key {next(iter(kv))}= (usage: {cls.synopsis()})")
        return cls(**values)

    def mappings(self) -> tuple:
        """Names of the mappings the operation refers to."""
        out = []
        for name, spec, _ in self.specs():
            v = getattr(self, name)
            if spec.kind == "addr":
                if v.mapping:
                    out.append(v.mapping)
            elif spec.kind == "mapping":
                out.append(v)
        return tuple(out)

    def simpler(self):
        """Variants with one argument simpler, for the minimizer: an address's offset
        toward 0, a page count or value written in every line toward 1 (optional keys
        stay: they name a layout, not a size)."""
        for name, spec, default in self.specs():
            v = getattr(self, name)
            if spec.kind == "addr":
                for c in smaller_ints(v.offset, 0):
                    yield dataclasses.replace(self, **{name: Addr(v.mapping, c, v.fixed)})
            elif spec.kind == "int" and (default is _REQUIRED or spec.always):
                for c in smaller_ints(v, max(1, spec.minimum)):
                    yield dataclasses.replace(self, **{name: c})


def smaller_ints(v: int, low: int):
    """``low``, half of ``v`` and ``v - 1``: each once, in that order, if below ``v``."""
    for c in dict.fromkeys((low, v // 2, v - 1)):
        if low <= c < v:
            yield c


OPS: dict[str, type[Op]] = {}
KINDS: dict[str, Gen] = {}


def register_op(cls: type[Op]) -> type[Op]:
    """Add an operation to the vocabulary under ``cls.name`` (its ``.kprog`` keyword),
    and its generated kinds to the generator's, in registration order (the order the
    generator's swarm draws them in); a class decorator. docs/extending.md shows a new
    operation end to end."""
    if cls.name in OPS:
        raise ValueError(f"operation {cls.name!r} registered twice")
    for _, spec, _ in cls.specs():
        if spec.kind not in ("result", "addr", "mapping", "word", "int", "name"):
            raise ValueError(f"{cls.name}: unknown field kind {spec.kind!r}")
    for k in cls.kinds:
        if k.name in KINDS:
            raise ValueError(f"operation kind {k.name!r} registered twice")
    OPS[cls.name] = cls
    for k in cls.kinds:
        KINDS[k.name] = dataclasses.replace(k, op=cls)
    return cls


def gen_kinds(kthread: bool, config=None) -> list[Gen]:
    """The generated kinds of user (or kernel-thread) operations, in registration order:
    the base ones (``config`` None), or those of operations with ``requires`` that
    ``config`` has on (an extension's)."""
    if config is None:
        return [k for k in KINDS.values()
                if k.op.kthread == kthread and k.op.requires is None]
    return [k for k in KINDS.values() if k.op.kthread == kthread and k.op.requires
            and getattr(config, k.op.requires)]

"""KASAN report wording for accesses through stale TLB entries and through freed
tables, and the sites in the report body."""

from core.machine import Machine
from core.mm.folio import folio_alloc, folio_put
from core.mm.setup import boot_world, create_process
from core.mm.uaccess import user_read
from core.mm.world import tlb_of
from core.sim import ReplaySource, site
from core.sim.strategies import RandomWalk

S_ALLOC = site("test_stale:folio_alloc")
S_PUT = site("test_stale:folio_put")


def test_a_load_through_a_stale_tlb_entry_to_a_freed_folio():
    m = Machine(ReplaySource([]), RandomWalk())
    boot_world(m.kernel)
    proc = create_process(m.kernel, "p0")

    def body(ctx):
        folio = yield from folio_alloc(ctx, 1, True, S_ALLOC)
        # A translation that no flush removed, to a folio that is then freed.
        tlb_of(ctx).entries[(proc.mm.oid, 3)] = (folio, 0, True, True)
        yield from folio_put(ctx, folio, S_PUT)
        yield from user_read(ctx, proc.mm, 3)

    m.spawn("T0", body)
    res = m.run(teardown=None)
    r = res.report
    assert r.title == "BUG: KASAN: use-after-free via stale TLB in user_read"
    assert r.detail("access") == "load through a stale TLB entry"
    assert r.detail("allocated by") == "T0 at test_stale:folio_alloc"
    assert r.detail("freed by") == "T0 at test_stale:folio_put"

"""Which kernel functions each modelled Python function mirrors (hand-written), and which
Python functions of ``core/mm`` are deliberately not anchored, with the reason.

The versions, source commits and hashes of the kernel bodies are not here: they are data,
in ``anchors.json`` next to this file, written by ``python -m core.upstream.reanchor``
from the bodies it read (see docs/upstream-anchors.md). An entry here without a row there
is an anchor not read yet (``ptfuzz anchors`` shows it as such; the tests fail on it).

One Python function may mirror several kernel functions (a helper folded into it, a
wrapper and its body), and several Python functions may mirror one kernel function.
"""

from __future__ import annotations

__all__ = ["MIRRORS", "NOT_ANCHORED", "UNREAD"]

# python function (dotted) -> [(kernel file, kernel function), ...]
MIRRORS: dict[str, list[tuple[str, str]]] = {
    # core/mm/anon_vma.py
    "core.mm.anon_vma.anon_vma_alloc": [("mm/rmap.c", "anon_vma_alloc")],
    "core.mm.anon_vma.put_anon_vma": [("include/linux/rmap.h", "put_anon_vma")],
    "core.mm.anon_vma.__put_anon_vma": [("mm/rmap.c", "__put_anon_vma")],
    "core.mm.anon_vma.anon_vma_free": [("mm/rmap.c", "anon_vma_free")],
    # core/mm/folio.py
    "core.mm.folio.folio_alloc": [("include/linux/highmem.h", "vma_alloc_zeroed_movable_folio")],
    "core.mm.folio.folio_get": [("include/linux/mm.h", "folio_get")],
    "core.mm.folio.folio_try_get": [("include/linux/page_ref.h", "folio_try_get")],
    "core.mm.folio.folio_put": [("include/linux/mm.h", "folio_put")],
    "core.mm.folio.folio_lock": [("include/linux/pagemap.h", "folio_lock")],
    "core.mm.folio.folio_trylock": [("include/linux/pagemap.h", "folio_trylock")],
    "core.mm.folio.folio_unlock": [("mm/filemap.c", "folio_unlock")],
    "core.mm.folio.folio_add_new_anon_rmap": [("mm/rmap.c", "folio_add_new_anon_rmap")],
    "core.mm.folio.folio_move_anon_rmap": [("mm/rmap.c", "folio_move_anon_rmap")],
    "core.mm.folio.mm_counter": [("include/linux/mm.h", "mm_counter")],
    "core.mm.folio.add_mm_counter": [("include/linux/mm.h", "add_mm_counter")],
    # core/mm/gup.py
    "core.mm.gup._grab": [("mm/gup.c", "try_grab_folio_fast")],
    "core.mm.gup.gup_fast_pte_range": [("mm/gup.c", "gup_fast_pte_range")],
    "core.mm.gup.gup_fast_pmd_leaf": [("mm/gup.c", "gup_fast_pmd_leaf")],
    "core.mm.gup.gup_fast": [("mm/gup.c", "gup_fast"), ("mm/gup.c", "gup_fast_pmd_range"),
                             ("mm/gup.c", "gup_fast_pud_range")],
    "core.mm.gup.unpin_user_pages": [("mm/gup.c", "unpin_user_pages")],
    "core.mm.gup.unpin_user_pages_dirty_lock": [("mm/gup.c", "unpin_user_pages_dirty_lock")],
    # core/mm/mprotect.py
    "core.mm.mprotect.userfaultfd_wp_use_markers": [("include/linux/userfaultfd_k.h",
                                                     "userfaultfd_wp_use_markers")],
    "core.mm.mprotect.vma_wants_manual_pte_write_upgrade": [
        ("mm/vma.h", "vma_wants_manual_pte_write_upgrade")],
    "core.mm.mprotect.can_change_pte_writable": [("mm/mprotect.c", "can_change_pte_writable")],
    "core.mm.mprotect.change_pte_range": [("mm/mprotect.c", "change_pte_range"),
                                          ("mm/mprotect.c", "change_present_ptes"),
                                          ("mm/mprotect.c", "change_softleaf_pte")],
    "core.mm.mprotect.change_huge_pmd": [("mm/huge_memory.c", "change_huge_pmd")],
    "core.mm.mprotect.change_pmd_range": [("mm/mprotect.c", "change_pmd_range"),
                                          ("mm/mprotect.c", "change_pud_range"),
                                          ("mm/mprotect.c", "change_protection_range")],
    "core.mm.mprotect.change_protection": [("mm/mprotect.c", "change_protection")],
    "core.mm.mprotect.do_mprotect": [("mm/mprotect.c", "do_mprotect_pkey"),
                                     ("mm/mprotect.c", "mprotect_fixup")],
    "core.mm.mprotect.mwriteprotect_range": [("mm/userfaultfd.c", "mwriteprotect_range"),
                                             ("mm/userfaultfd.c", "uffd_wp_range")],
    "core.mm.gup.follow_page_pte": [("mm/gup.c", "follow_page_pte")],
    "core.mm.gup.follow_pmd_mask": [("mm/gup.c", "follow_pmd_mask")],
    "core.mm.gup.__get_user_pages": [("mm/gup.c", "__get_user_pages"),
                                     ("mm/gup.c", "faultin_page"),
                                     ("mm/gup.c", "__get_user_pages_locked")],
    "core.mm.gup.pin_user_pages_fast": [("mm/gup.c", "pin_user_pages_fast"),
                                        ("mm/gup.c", "gup_fast_fallback")],
    # core/mm/huge_memory.py
    "core.mm.huge_memory.pmd_trans_huge_lock": [("include/linux/huge_mm.h", "pmd_trans_huge_lock"),
                                                ("mm/huge_memory.c", "__pmd_trans_huge_lock")],
    "core.mm.huge_memory.pgtable_trans_huge_deposit": [("mm/pgtable-generic.c",
                                                        "pgtable_trans_huge_deposit")],
    "core.mm.huge_memory.pgtable_trans_huge_withdraw": [("mm/pgtable-generic.c",
                                                         "pgtable_trans_huge_withdraw")],
    "core.mm.huge_memory.__split_huge_pmd": [("mm/huge_memory.c", "__split_huge_pmd"),
                                             ("mm/huge_memory.c", "__split_huge_pmd_locked")],
    "core.mm.huge_memory.move_huge_pmd": [("mm/huge_memory.c", "move_huge_pmd")],
    # core/mm/khugepaged.py
    "core.mm.khugepaged.find_pmd_or_thp_or_none": [("mm/khugepaged.c", "find_pmd_or_thp_or_none")],
    "core.mm.khugepaged.hpage_collapse_test_exit": [
        ("mm/khugepaged.c", "hpage_collapse_test_exit")],
    "core.mm.khugepaged.retract_page_tables": [("mm/khugepaged.c", "retract_page_tables")],
    "core.mm.khugepaged.collapse_file": [("mm/khugepaged.c", "collapse_file")],
    "core.mm.khugepaged.set_huge_pmd": [("mm/khugepaged.c", "set_huge_pmd")],
    # The model follows v6.13's form ("collapse_pte_mapped_thp() use
    # pte_offset_map_rw_nolock()", v5): read from a ~v6.18 copy; later kernels moved the
    # body into try_collapse_pte_mapped_thp (read from a 2026 copy), leaving a wrapper.
    "core.mm.khugepaged.collapse_pte_mapped_thp": [
        ("mm/khugepaged.c", "collapse_pte_mapped_thp"),
        ("mm/khugepaged.c", "try_collapse_pte_mapped_thp")],
    "core.mm.khugepaged.is_refcount_suitable": [("mm/khugepaged.c", "is_refcount_suitable")],
    "core.mm.khugepaged.hpage_collapse_scan_pmd": [("mm/khugepaged.c", "hpage_collapse_scan_pmd")],
    "core.mm.khugepaged.hugepage_vma_revalidate": [("mm/khugepaged.c", "hugepage_vma_revalidate")],
    "core.mm.khugepaged.__collapse_huge_page_swapin": [
        ("mm/khugepaged.c", "__collapse_huge_page_swapin")],
    "core.mm.khugepaged.collapse_huge_page": [
        ("mm/khugepaged.c", "collapse_huge_page"),
        ("mm/khugepaged.c", "check_pmd_still_valid"),
        ("mm/khugepaged.c", "__collapse_huge_page_isolate"),
        ("mm/khugepaged.c", "__collapse_huge_page_copy"),
        ("mm/khugepaged.c", "__collapse_huge_page_copy_succeeded"),
    ],
    # core/mm/madvise.py
    "core.mm.madvise.madvise_dontneed": [("mm/madvise.c", "madvise_dontneed_single_vma")],
    "core.mm.madvise.hpage_collapse_scan_file": [("mm/khugepaged.c", "hpage_collapse_scan_file")],
    "core.mm.madvise.madvise_collapse": [("mm/khugepaged.c", "madvise_collapse")],
    "core.mm.madvise.khugepaged_scan_range": [("mm/khugepaged.c", "khugepaged_scan_mm_slot")],
    "core.mm.madvise.madvise_free_pte_range": [("mm/madvise.c", "madvise_free_pte_range")],
    "core.mm.madvise.madvise_free_single_vma": [("mm/madvise.c", "madvise_free_single_vma")],
    # core/mm/memory.py
    "core.mm.memory.pmd_alloc": [
        ("include/linux/mm.h", "pmd_alloc"), ("mm/memory.c", "__pmd_alloc")],
    "core.mm.memory.mm_find_pmd": [("mm/rmap.c", "mm_find_pmd")],
    "core.mm.memory.pmd_install": [("mm/memory.c", "pmd_install")],
    "core.mm.memory.__pte_alloc": [("mm/memory.c", "__pte_alloc")],
    "core.mm.memory.anon_vma_prepare": [("include/linux/rmap.h", "anon_vma_prepare"),
                                        ("mm/rmap.c", "__anon_vma_prepare")],
    "core.mm.memory.vmf_anon_prepare": [("mm/internal.h", "vmf_anon_prepare"),
                                        ("mm/memory.c", "__vmf_anon_prepare")],
    "core.mm.memory.handle_mm_fault": [("mm/memory.c", "handle_mm_fault"),
                                       ("mm/memory.c", "__handle_mm_fault")],
    "core.mm.memory.huge_pmd_set_accessed": [("mm/huge_memory.c", "huge_pmd_set_accessed")],
    "core.mm.memory.handle_pte_fault": [("mm/memory.c", "handle_pte_fault")],
    "core.mm.memory.do_pte_missing": [("mm/memory.c", "do_pte_missing")],
    "core.mm.memory.vmf_pte_changed": [("mm/memory.c", "vmf_pte_changed")],
    "core.mm.memory.vmf_orig_pte_uffd_wp": [("mm/memory.c", "vmf_orig_pte_uffd_wp")],
    "core.mm.memory.do_anonymous_page": [("mm/memory.c", "do_anonymous_page")],
    "core.mm.memory.do_swap_page": [("mm/memory.c", "do_swap_page")],
    "core.mm.memory.do_wp_page": [("mm/memory.c", "do_wp_page"), ("mm/memory.c", "wp_page_reuse")],
    "core.mm.memory.wp_page_copy": [("mm/memory.c", "wp_page_copy")],
    # core/mm/memory_file.py
    "core.mm.memory_file.vma_suits_huge": [("include/linux/huge_mm.h", "thp_vma_suitable_order")],
    "core.mm.memory_file.filemap_get_entry": [("mm/filemap.c", "filemap_get_entry")],
    "core.mm.memory_file.filemap_lock_folio": [("include/linux/pagemap.h", "filemap_lock_folio"),
                                               ("mm/filemap.c", "__filemap_get_folio")],
    "core.mm.memory_file.filemap_fault": [("mm/filemap.c", "filemap_fault")],
    "core.mm.memory_file.do_fault": [("mm/memory.c", "do_fault")],
    "core.mm.memory_file.__do_fault": [("mm/memory.c", "__do_fault")],
    "core.mm.memory_file.do_read_fault": [("mm/memory.c", "do_read_fault"),
                                          ("mm/memory.c", "should_fault_around"),
                                          ("include/linux/userfaultfd_k.h",
                                           "uffd_disable_fault_around")],
    "core.mm.memory_file.should_fault_around": [("mm/memory.c", "should_fault_around"),
                                                ("include/linux/userfaultfd_k.h",
                                                 "uffd_disable_fault_around")],
    "core.mm.memory_file.do_cow_fault": [("mm/memory.c", "do_cow_fault")],
    "core.mm.memory_file.do_shared_fault": [("mm/memory.c", "do_shared_fault")],
    "core.mm.memory_file.finish_fault": [("mm/memory.c", "finish_fault")],
    "core.mm.memory_file.do_set_pmd": [("mm/memory.c", "do_set_pmd")],
    "core.mm.memory_file.do_fault_around": [("mm/memory.c", "do_fault_around")],
    "core.mm.memory_file.next_uptodate_folio": [("mm/filemap.c", "next_uptodate_folio")],
    "core.mm.memory_file.filemap_map_pmd": [("mm/filemap.c", "filemap_map_pmd")],
    "core.mm.memory_file.filemap_map_pages": [("mm/filemap.c", "filemap_map_pages")],
    # core/mm/memory_zap.py
    "core.mm.memory_zap.zap_present_ptes": [("mm/memory.c", "zap_present_ptes"),
                                            ("mm/memory.c", "zap_present_folio_ptes")],
    "core.mm.memory_zap.zap_nonpresent_ptes": [("mm/memory.c", "zap_nonpresent_ptes"),
                                               ("mm/memory.c", "zap_install_uffd_wp_if_needed")],
    "core.mm.memory_zap.do_zap_pte_range": [("mm/memory.c", "do_zap_pte_range")],
    "core.mm.memory_zap.zap_pte_range": [("mm/memory.c", "zap_pte_range")],
    "core.mm.memory_zap.zap_huge_pmd": [("mm/huge_memory.c", "zap_huge_pmd"),
                                        ("mm/huge_memory.c", "zap_deposited_table")],
    "core.mm.memory_zap.zap_pmd_range": [("mm/memory.c", "zap_pmd_range")],
    "core.mm.memory_zap.unmap_single_vma": [("mm/memory.c", "unmap_single_vma"),
                                            ("mm/memory.c", "unmap_page_range")],
    "core.mm.memory_zap.zap_page_range_single_batched": [("mm/memory.c",
                                                          "zap_page_range_single_batched")],
    "core.mm.memory_zap.unmap_vmas": [("mm/memory.c", "unmap_vmas")],
    "core.mm.memory_zap.unlink_anon_vmas": [("mm/rmap.c", "unlink_anon_vmas")],
    "core.mm.memory_zap.unlink_file_vma": [("mm/vma.c", "unlink_file_vma_batch_final")],
    "core.mm.memory_zap.free_pte_range": [("mm/memory.c", "free_pte_range")],
    "core.mm.memory_zap.free_pmd_range": [("mm/memory.c", "free_pmd_range")],
    "core.mm.memory_zap.free_pgd_range": [("mm/memory.c", "free_pgd_range")],
    "core.mm.memory_zap.free_pgtables": [("mm/memory.c", "free_pgtables")],
    # core/mm/mmap.py
    "core.mm.mmap.mm_alloc": [("kernel/fork.c", "mm_alloc")],
    "core.mm.mmap.vma_link": [("mm/vma.c", "vma_link")],
    "core.mm.mmap.do_mmap": [("mm/mmap.c", "do_mmap")],
    "core.mm.mmap.do_munmap": [("mm/vma.c", "do_vmi_align_munmap"),
                               ("mm/vma.c", "vms_gather_munmap_vmas"),
                               ("mm/vma.c", "vms_complete_munmap_vmas")],
    "core.mm.mmap.vm_area_free": [("kernel/fork.c", "vm_area_free")],
    "core.mm.mmap.mmget_not_zero": [("include/linux/sched/mm.h", "mmget_not_zero")],
    "core.mm.mmap.mmgrab": [("include/linux/sched/mm.h", "mmgrab")],
    "core.mm.mmap.exit_mm": [("kernel/exit.c", "exit_mm")],
    "core.mm.mmap.mmput": [("kernel/fork.c", "mmput"), ("kernel/fork.c", "__mmput")],
    "core.mm.mmap.mmdrop": [("include/linux/sched/mm.h", "mmdrop"), ("kernel/fork.c", "__mmdrop")],
    "core.mm.mmap.check_mm": [("kernel/fork.c", "check_mm")],
    "core.mm.mmap.exit_mmap": [("mm/mmap.c", "exit_mmap")],
    # core/mm/mmap_lock.py
    "core.mm.mmap_lock.mmap_read_lock": [("include/linux/mmap_lock.h", "mmap_read_lock")],
    "core.mm.mmap_lock.mmap_read_trylock": [("include/linux/mmap_lock.h", "mmap_read_trylock")],
    "core.mm.mmap_lock.mmap_read_unlock": [("include/linux/mmap_lock.h", "mmap_read_unlock")],
    "core.mm.mmap_lock.mmap_write_lock": [("include/linux/mmap_lock.h", "mmap_write_lock")],
    "core.mm.mmap_lock.mmap_write_unlock": [("include/linux/mmap_lock.h", "mmap_write_unlock")],
    "core.mm.mmap_lock.mmap_write_downgrade": [
        ("include/linux/mmap_lock.h", "mmap_write_downgrade")],
    # v6.12 keeps the per-VMA lock helpers in include/linux/mm.h; later kernels moved them
    # (include/linux/mmap_lock.h, mm/mmap_lock.c): re-read there.
    "core.mm.mmap_lock.vma_start_write": [("include/linux/mm.h", "vma_start_write")],
    "core.mm.mmap_lock.vma_start_read": [("include/linux/mm.h", "vma_start_read")],
    "core.mm.mmap_lock.vma_end_read": [("include/linux/mm.h", "vma_end_read")],
    "core.mm.mmap_lock.lock_vma_under_rcu": [("mm/memory.c", "lock_vma_under_rcu")],
    # core/mm/mmu_gather.py
    "core.mm.mmu_gather.tlb_gather_mmu": [("mm/mmu_gather.c", "tlb_gather_mmu"),
                                          ("mm/mmu_gather.c", "__tlb_gather_mmu")],
    "core.mm.mmu_gather.tlb_remove_folio": [("mm/mmu_gather.c", "__tlb_remove_folio_pages_size"),
                                            ("mm/mmu_gather.c", "tlb_next_batch")],
    "core.mm.mmu_gather.tlb_flush_mmu_tlbonly": [("include/asm-generic/tlb.h",
                                                  "tlb_flush_mmu_tlbonly")],
    "core.mm.mmu_gather.pte_free_tlb": [("arch/x86/mm/pgtable.c", "___pte_free_tlb")],
    "core.mm.mmu_gather.pmd_free_tlb": [("arch/x86/mm/pgtable.c", "___pmd_free_tlb")],
    "core.mm.mmu_gather.tlb_remove_table": [("mm/mmu_gather.c", "tlb_remove_table")],
    "core.mm.mmu_gather.__tlb_remove_table": [("arch/x86/include/asm/tlb.h", "__tlb_remove_table")],
    "core.mm.mmu_gather.tlb_remove_table_one": [("mm/mmu_gather.c", "tlb_remove_table_one")],
    "core.mm.mmu_gather.tlb_remove_table_rcu": [("mm/mmu_gather.c", "tlb_remove_table_rcu")],
    "core.mm.mmu_gather.tlb_table_flush": [("mm/mmu_gather.c", "tlb_table_flush")],
    "core.mm.mmu_gather.tlb_batch_pages_flush": [("mm/mmu_gather.c", "tlb_batch_pages_flush")],
    "core.mm.mmu_gather.tlb_flush_mmu": [("mm/mmu_gather.c", "tlb_flush_mmu")],
    "core.mm.mmu_gather.tlb_finish_mmu": [("mm/mmu_gather.c", "tlb_finish_mmu")],
    # core/mm/mremap.py
    "core.mm.mremap.take_rmap_locks": [("mm/mremap.c", "take_rmap_locks")],
    "core.mm.mremap.drop_rmap_locks": [("mm/mremap.c", "drop_rmap_locks")],
    "core.mm.mremap.move_normal_pmd": [("mm/mremap.c", "move_normal_pmd")],
    "core.mm.mremap.vma_has_uffd_without_event_remap": [
        ("include/linux/userfaultfd_k.h", "vma_has_uffd_without_event_remap")],
    "core.mm.mremap.move_ptes": [("mm/mremap.c", "move_ptes")],
    "core.mm.mremap.move_page_tables": [("mm/mremap.c", "move_page_tables")],
    # core/mm/pagewalk.py
    "core.mm.pagewalk.pagemap_pmd_range": [("fs/proc/task_mmu.c", "pagemap_pmd_range")],
    "core.mm.pagewalk.walk_pmd_range": [("mm/pagewalk.c", "walk_pmd_range")],
    "core.mm.pagewalk.pagemap_read": [("fs/proc/task_mmu.c", "pagemap_read")],
    # core/mm/pgtable.py
    "core.mm.pgtable.pmd_index": [("include/linux/pgtable.h", "pmd_index")],
    "core.mm.pgtable.pmd_offset": [("include/linux/pgtable.h", "pmd_offset")],
    "core.mm.pgtable.pte_index": [("include/linux/pgtable.h", "pte_index")],
    "core.mm.pgtable.pmdp_get_lockless": [("include/linux/pgtable.h", "pmdp_get_lockless")],
    "core.mm.pgtable.pmd_populate": [("arch/x86/include/asm/pgalloc.h", "pmd_populate")],
    "core.mm.pgtable.pmdp_huge_get_and_clear": [("arch/x86/include/asm/pgtable.h",
                                                 "pmdp_huge_get_and_clear")],
    "core.mm.pgtable.ptep_get": [("include/linux/pgtable.h", "ptep_get")],
    "core.mm.pgtable.ptep_get_and_clear": [
        ("arch/x86/include/asm/pgtable.h", "ptep_get_and_clear")],
    "core.mm.pgtable.pte_lockptr": [("include/linux/mm.h", "pte_lockptr")],
    "core.mm.pgtable.pmd_lockptr": [("include/linux/mm.h", "pmd_lockptr")],
    "core.mm.pgtable.pmd_lock": [("include/linux/mm.h", "pmd_lock")],
    "core.mm.pgtable._ptlock_init": [("include/linux/mm.h", "ptlock_init")],
    "core.mm.pgtable.pte_alloc_one": [("arch/x86/mm/pgtable.c", "pte_alloc_one"),
                                      ("include/asm-generic/pgalloc.h", "__pte_alloc_one_noprof")],
    "core.mm.pgtable.pmd_alloc_one": [("include/asm-generic/pgalloc.h", "pmd_alloc_one_noprof")],
    # pagetable_dtor (v6.14+) was pagetable_pte_dtor in v6.12.
    "core.mm.pgtable.pagetable_dtor": [("include/linux/mm.h", "pagetable_pte_dtor")],
    "core.mm.pgtable.pte_free": [("include/asm-generic/pgalloc.h", "pte_free")],
    "core.mm.pgtable.pmd_free": [("include/asm-generic/pgalloc.h", "pmd_free")],
    "core.mm.pgtable.__pte_offset_map": [("mm/pgtable-generic.c", "___pte_offset_map")],
    "core.mm.pgtable.pte_offset_map": [("include/linux/mm.h", "pte_offset_map")],
    "core.mm.pgtable.pte_offset_map_ro_nolock": [
        ("mm/pgtable-generic.c", "pte_offset_map_ro_nolock")],
    "core.mm.pgtable.pte_offset_map_rw_nolock": [
        ("mm/pgtable-generic.c", "pte_offset_map_rw_nolock")],
    "core.mm.pgtable.__pte_offset_map_lock": [("mm/pgtable-generic.c", "__pte_offset_map_lock")],
    "core.mm.pgtable.pte_unmap": [("include/linux/pgtable.h", "pte_unmap")],
    "core.mm.pgtable.pte_free_now": [("mm/pgtable-generic.c", "pte_free_now")],
    "core.mm.pgtable.pte_free_defer": [("mm/pgtable-generic.c", "pte_free_defer")],
    # core/mm/pt_reclaim.py (mm/pt_reclaim.c exists v6.14..v6.19; later folded into
    # mm/memory.c as pte_table_reclaim_possible / zap_empty_pte_table / zap_pte_table_if_empty)
    "core.mm.pt_reclaim.reclaim_pt_is_enabled": [("mm/pt_reclaim.c", "reclaim_pt_is_enabled"),
                                                 ("mm/memory.c", "pte_table_reclaim_possible")],
    "core.mm.pt_reclaim.try_get_and_clear_pmd": [("mm/pt_reclaim.c", "try_get_and_clear_pmd"),
                                                 ("mm/memory.c", "zap_empty_pte_table")],
    "core.mm.pt_reclaim.free_pte": [("mm/pt_reclaim.c", "free_pte")],
    "core.mm.pt_reclaim.try_to_free_pte": [("mm/pt_reclaim.c", "try_to_free_pte"),
                                           ("mm/memory.c", "zap_pte_table_if_empty")],
    # core/mm/rmap.py
    "core.mm.rmap.map_pte": [("mm/page_vma_mapped.c", "map_pte"),
                             ("mm/page_vma_mapped.c", "page_vma_mapped_walk")],
    "core.mm.rmap.try_to_unmap_one": [("mm/rmap.c", "try_to_unmap_one")],
    "core.mm.rmap.folio_lock_anon_vma_read": [("mm/rmap.c", "folio_lock_anon_vma_read")],
    "core.mm.rmap.folio_get_anon_vma": [("mm/rmap.c", "folio_get_anon_vma")],
    "core.mm.rmap.rmap_walk": [("mm/rmap.c", "rmap_walk"), ("mm/rmap.c", "rmap_walk_anon"),
                               ("mm/rmap.c", "rmap_walk_file")],
    "core.mm.rmap.try_to_unmap": [("mm/rmap.c", "try_to_unmap")],
    "core.mm.rmap.folio_referenced": [("mm/rmap.c", "folio_referenced"),
                                      ("mm/rmap.c", "folio_referenced_one")],
    # core/mm/swap.py
    "core.mm.swap.add_to_swap": [("mm/swap_state.c", "add_to_swap")],
    "core.mm.swap.swapcache_prepare": [("mm/swapfile.c", "swapcache_prepare")],
    "core.mm.swap.swapcache_clear": [("mm/swapfile.c", "swapcache_clear")],
    "core.mm.swap.swap_free": [("include/linux/swap.h", "swap_free")],
    "core.mm.swap.folio_free_swap": [("mm/swapfile.c", "folio_free_swap")],
    "core.mm.swap.delete_from_swap_cache": [("mm/swap_state.c", "delete_from_swap_cache")],
    "core.mm.swap.free_swap_cache": [("mm/swap_state.c", "free_swap_cache")],
    "core.mm.swap.free_swap_and_cache": [("mm/swapfile.c", "free_swap_and_cache_nr"),
                                         ("mm/swapfile.c", "__try_to_reclaim_swap")],
    # core/mm/tlb.py
    "core.mm.tlb.flush_tlb_range": [("arch/x86/mm/tlb.c", "flush_tlb_mm_range")],
    "core.mm.tlb.ptep_clear_flush": [("mm/pgtable-generic.c", "ptep_clear_flush")],
    "core.mm.tlb.pmdp_collapse_flush": [("mm/pgtable-generic.c", "pmdp_collapse_flush")],
    "core.mm.tlb.set_tlb_ubc_flush_pending": [("mm/rmap.c", "set_tlb_ubc_flush_pending")],
    "core.mm.tlb.try_to_unmap_flush": [("mm/rmap.c", "try_to_unmap_flush")],
    "core.mm.tlb.flush_tlb_batched_pending": [("mm/rmap.c", "flush_tlb_batched_pending")],
    # core/mm/types.py
    "core.mm.types.pmd_same": [("include/linux/pgtable.h", "pmd_same")],
    "core.mm.types.Vma.page_index": [("include/linux/pagemap.h", "linear_page_index")],
    "core.mm.types.Mm.find_vma": [("include/linux/mm.h", "vma_lookup")],
    # core/mm/uaccess.py
    "core.mm.uaccess.do_user_addr_fault": [("arch/x86/mm/fault.c", "do_user_addr_fault")],
    # core/mm/userfaultfd.py
    "core.mm.userfaultfd.double_pt_lock": [("mm/userfaultfd.c", "double_pt_lock")],
    "core.mm.userfaultfd.double_pt_unlock": [("mm/userfaultfd.c", "double_pt_unlock")],
    "core.mm.userfaultfd.is_pte_pages_stable": [("mm/userfaultfd.c", "is_pte_pages_stable")],
    "core.mm.userfaultfd.move_present_pte": [("mm/userfaultfd.c", "move_present_pte")],
    "core.mm.userfaultfd.move_pages_pte": [("mm/userfaultfd.c", "move_pages_pte")],
    "core.mm.userfaultfd.move_swap_pte": [("mm/userfaultfd.c", "move_swap_pte")],
    "core.mm.userfaultfd.move_pages_huge_pmd": [("mm/huge_memory.c", "move_pages_huge_pmd")],
    "core.mm.userfaultfd.find_vma_and_prepare_anon": [("mm/userfaultfd.c",
                                                       "find_vma_and_prepare_anon")],
    "core.mm.userfaultfd.uffd_lock_vma": [("mm/userfaultfd.c", "uffd_lock_vma")],
    "core.mm.userfaultfd.find_vmas_mm_locked": [("mm/userfaultfd.c", "find_vmas_mm_locked")],
    "core.mm.userfaultfd.uffd_move_lock": [("mm/userfaultfd.c", "uffd_move_lock")],
    "core.mm.userfaultfd.uffd_move_unlock": [("mm/userfaultfd.c", "uffd_move_unlock")],
    "core.mm.userfaultfd.move_pages": [("mm/userfaultfd.c", "move_pages")],
    "core.mm.userfaultfd.userfaultfd_register": [("fs/userfaultfd.c", "userfaultfd_register")],
    "core.mm.userfaultfd.mfill_atomic_install_pte": [
        ("mm/userfaultfd.c", "mfill_atomic_install_pte")],
    "core.mm.userfaultfd.mfill_atomic_pte": [("mm/userfaultfd.c", "mfill_atomic_pte"),
                                             ("mm/userfaultfd.c", "mfill_atomic_pte_copy")],
    "core.mm.userfaultfd.mfill_atomic": [("mm/userfaultfd.c", "mfill_atomic")],
    # core/mm/vmscan.py
    "core.mm.vmscan.shrink_folio": [("mm/vmscan.c", "shrink_folio_list")],
    # core/kernel: the RCU, IPI and mmu_gather primitives that mirror kernel functions
    "core.kernel.rcu.rcu_gp_kthread": [("kernel/rcu/tree.c", "rcu_gp_kthread")],
    "core.kernel.rcu.rcu_do_batch": [("kernel/rcu/tree.c", "rcu_do_batch")],
    "core.kernel.rcu.rcu_read_lock": [("include/linux/rcupdate.h", "rcu_read_lock")],
    "core.kernel.rcu.rcu_read_unlock": [("include/linux/rcupdate.h", "rcu_read_unlock")],
    "core.kernel.rcu.call_rcu": [("kernel/rcu/tree.c", "call_rcu")],
    "core.kernel.rcu.synchronize_rcu": [("kernel/rcu/tree.c", "synchronize_rcu")],
    "core.kernel.rcu.rcu_barrier": [("kernel/rcu/tree.c", "rcu_barrier")],
    "core.kernel.irq.smp_call_function": [("kernel/smp.c", "smp_call_function_many_cond")],
    "core.kernel.irq.tlb_remove_table_sync_one": [("mm/mmu_gather.c", "tlb_remove_table_sync_one")],
}

_MACRO = "a macro, not a function: extract_function reads function definitions only"
_IDIOM = "an inline idiom, not a kernel function"
_MODEL = "model machinery, mirrors no kernel function"

# python function (dotted) -> why it has no anchor
NOT_ANCHORED: dict[str, str] = {
    "core.mm.anon_vma.get_anon_vma_not_zero": _IDIOM + " (atomic_inc_not_zero on "
        "anon_vma->refcount, inside folio_get_anon_vma, which is anchored)",
    "core.mm.anon_vma.put_anon_vma_last": _IDIOM + " (atomic_dec_and_test inside "
        "put_anon_vma, which is anchored)",
    "core.mm.folio.folio_put_now": "the body of folio_put for a caller that already yielded "
        "(folio_put is anchored)",
    "core.mm.folio.folio_add_rmap": "a model abstraction standing for folio_add_new_anon_rmap, "
        "folio_add_file_rmap_ptes and _pmd (mapcount only)",
    "core.mm.folio.folio_remove_rmap": "a model abstraction standing for "
        "folio_remove_rmap_ptes and _pmd (mapcount only)",
    "core.mm.khugepaged.khugepaged_scan_anon": "a model driver: the anonymous branch of "
        "khugepaged_scan_mm_slot, composing hpage_collapse_scan_pmd and collapse_huge_page "
        "(both anchored)",
    "core.mm.madvise.madvise_free": "the syscall's lock-mode choice (do_madvise, madvise_lock), "
        "shared with madvise_dontneed; its page-table work is madvise_free_single_vma "
        "(anchored)",
    "core.mm.memory.pte_alloc": "pte_alloc is " + _MACRO,
    "core.mm.pgtable.pud_pmd_table": "pud_offset() and pud_none_or_clear_bad() of the folded "
        "PGD/P4D/PUD entry: address arithmetic and one load, no body of its own to compare",
    "core.mm.gup._gup_fast": "the walk of gup_fast (anchored), split out to return how far "
        "it got (gup_fast's nr_pinned) to pin_user_pages_fast",
    "core.mm.gup._grab_locked": "try_grab_folio(FOLL_PIN) under the page-table lock, "
        "where it cannot fail: " + _IDIOM,
    "core.mm.mprotect.vm_page_prot_write": _MODEL + " (the write bit of vma->vm_page_prot, "
        "which vma_set_page_prot computes)",
    "core.mm.rmap.lazyfree_discardable": _MODEL + " (the inline condition of "
        "try_to_unmap_one, anchored, under which a lazyfree folio is discarded)",
    "core.mm.gup.direct_io_read": _MODEL + " (the direct-I/O read of fs/iomap/direct-io.c "
        "composed from pin_user_pages_fast, the device's stores and "
        "unpin_user_pages_dirty_lock, which are anchored)",
    "core.mm.mmap.get_unmapped_area": "a model allocator of address ranges (the kernel's "
        "vm_unmapped_area is not modelled)",
    "core.mm.mmap.task_mm_grab": "a model stand-in for mm_access and khugepaged's mm_slot "
        "reference",
    "core.mm.mmap_lock.vma_write_locked": "a model predicate (the kernel's "
        "__is_vma_write_locked compares sequence numbers the model does not have)",
    "core.mm.mmu_gather.tlb_remove_tlb_entry": "tlb_remove_tlb_entry is " + _MACRO,
    "core.mm.mremap.do_mremap": "a model of the mremap syscall's move (move_vma); its page-table "
        "work is move_page_tables (anchored)",
    "core.mm.pgtable.pmd_kind": _MODEL + " (classifies a pmd value)",
    "core.mm.pgtable.pmd_pgtable": "pmd_pgtable is " + _MACRO + " (x86: pmd_page)",
    "core.mm.pgtable.pmd_clear": "x86 pmd_clear is " + _MACRO + " (paravirt, native_pmd_clear)",
    "core.mm.pgtable.set_pte": "stands for set_pte_at / set_ptes / pte_clear, x86 macros and "
        "paravirt accessors",
    "core.mm.pgtable.pte_unmap_unlock": "pte_unmap_unlock is " + _MACRO,
    "core.mm.picture.pte_picture": _MODEL + " (a text picture)",
    "core.mm.picture.mm_picture": _MODEL + " (a text picture)",
    "core.mm.pt_reclaim_async.pt_reclaim_scan_pmd": "a design under test (docs/async-reclaim.md), "
        "not a kernel function",
    "core.mm.setup.boot_world": _MODEL + " (setup)",
    "core.mm.setup.create_file": _MODEL + " (setup)",
    "core.mm.setup.create_process": _MODEL + " (setup)",
    "core.mm.setup.truncate_inode_pages": "a setup-time stand-in: drops the page cache; the "
        "kernel's truncation (unmap_mapping_range, page-cache deletion) is not modelled",
    "core.mm.swap.swapcache_wait": "the wait on swapcache_wq inside do_swap_page (anchored)",
    "core.mm.swap.drain_swap_cache": _MODEL + " (stands in for later reclaim passes)",
    "core.mm.tlb.flush_tlb_mm": "x86 flush_tlb_mm is " + _MACRO + " (flush_tlb_mm_range, "
        "anchored)",
    "core.mm.uaccess.user_read": _MODEL + " (a user load through the TLB)",
    "core.mm.uaccess.user_write": _MODEL + " (a user store through the TLB)",
    "core.mm.vmscan.reclaim_folio_at": "a model driver: kswapd's work item, finding the folio "
        "stands for taking it off an LRU list; shrink_folio_list is anchored",
    "core.mm.world.tlb_of": _MODEL,
    "core.mm.world.world": _MODEL,
}

# Mirrors whose kernel body has not been read yet: (kernel functions, why). They count as
# listed for the coverage test; ``ptfuzz anchors`` shows them; drift skips them.
_NO_COPY = ("not read yet: the search index holds no file copy of a kernel that has it (only "
            "patch mails); re-read with python -m core.upstream.reanchor --tree (a v6.18+ tree)")
UNREAD: dict[str, tuple[list[tuple[str, str]], str]] = {
    "core.mm.khugepaged.check_pmd_state": ([("mm/khugepaged.c", "check_pmd_state")],
                                           _NO_COPY + "; merged as 6c18ec9af86c"),
    "core.mm.madvise.try_vma_read_lock": ([("mm/madvise.c", "try_vma_read_lock")],
                                          _NO_COPY + "; v6.16+"),
}

"""The kernel substrate: Ctx, accesses, locks, RCU, IRQs and IPIs, the allocator, lockdep."""

from .access import READ_ONCE, WRITE_ONCE, cmpxchg, xchg
from .alloc import (ALLOCATED, FREED, QUARANTINED, RCU_PENDING, UNALLOCATED, VALID_STATES,
                    Allocator, KObject)
from .config import Config, ConfigError
from .context import Ctx, HeldLock, Hooks, Kernel
from .irq import local_irq_disable, local_irq_enable, smp_call_function, tlb_remove_table_sync_one
from .locks import Lock, LockClass, lock_class
from .rcu import call_rcu, rcu_barrier, rcu_read_lock, rcu_read_unlock, synchronize_rcu
from .rwsem import (RwSem, down_read, down_read_trylock, down_write, down_write_trylock,
                    downgrade_write, up_read, up_write)
from .sleeplock import SleepLock, sleep_lock, sleep_trylock, sleep_unlock
from .spinlock import Spinlock, spin_lock, spin_lock_nested, spin_trylock, spin_unlock

__all__ = [
    "READ_ONCE", "WRITE_ONCE", "cmpxchg", "xchg", "ALLOCATED", "FREED", "QUARANTINED",
    "RCU_PENDING", "UNALLOCATED", "VALID_STATES", "Allocator", "KObject", "Config",
    "ConfigError", "Ctx",
    "HeldLock", "Hooks", "Kernel", "local_irq_disable", "local_irq_enable",
    "smp_call_function", "tlb_remove_table_sync_one", "Lock", "LockClass", "lock_class",
    "call_rcu", "rcu_barrier", "rcu_read_lock", "rcu_read_unlock", "synchronize_rcu",
    "RwSem", "down_read", "down_read_trylock", "down_write", "down_write_trylock",
    "downgrade_write", "up_read", "up_write", "SleepLock", "sleep_lock", "sleep_trylock",
    "sleep_unlock", "Spinlock", "spin_lock", "spin_lock_nested", "spin_trylock", "spin_unlock",
]

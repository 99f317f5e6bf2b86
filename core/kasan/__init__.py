"""KASAN-like shadow memory checks."""

from .shadow import Kasan, install

__all__ = ["Kasan", "install"]

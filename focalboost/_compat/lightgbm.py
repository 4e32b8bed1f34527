"""LightGBM's private internals, each behind a feature check (see :mod:`focalboost._compat`).

* :func:`network_free`: free LightGBM's thread-local network state
  (``lightgbm.basic._safe_call(lightgbm.basic._LIB.LGBM_NetworkFree())``, what LightGBM's own Dask
  training does after a successful fit), or nothing.
"""

from __future__ import annotations

import ctypes

from . import Feature, fast_paths_enabled, logger


def _basic():
    from lightgbm import basic  # the module holding the private names

    return basic


def _check_network_free():
    basic = _basic()
    if not callable(getattr(basic, "_safe_call", None)):
        raise AttributeError("lightgbm.basic._safe_call is missing")
    if not isinstance(getattr(basic, "_LIB", None), ctypes.CDLL):
        raise AttributeError("lightgbm.basic._LIB is not a ctypes library")
    basic._LIB.LGBM_NetworkFree  # noqa: B018 - AttributeError if the C function is gone


_NETWORK_FREE = Feature(
    "lightgbm.network_free", _check_network_free,
    "LightGBM's network is not freed after a failed fit (a later fit on that thread may fail)",
)


def network_free():
    """Free LightGBM's network (sockets, rank, number of machines) of the calling thread.

    LightGBM keeps it in thread-local state and frees it only after a *successful* Dask fit; call
    this after a failed one. Freeing a network that is not set up does nothing. With the fast
    paths off (or LightGBM's internals changed: logged once as a warning) this does nothing and
    logs a debug line. Returns True if the network was freed.
    """
    if not _NETWORK_FREE.available():
        logger.debug(
            "LGBM_NetworkFree skipped (%s)",
            "fast paths switched off" if not fast_paths_enabled() else _NETWORK_FREE.reason,
        )
        return False
    basic = _basic()
    basic._safe_call(basic._LIB.LGBM_NetworkFree())
    return True


FEATURES = {_NETWORK_FREE.name: _NETWORK_FREE}

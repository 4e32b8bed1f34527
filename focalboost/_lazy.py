"""Module attributes imported on first access (PEP 562), for ``focalboost`` and
``focalboost.sklearn``: importing the package must not load XGBoost, LightGBM or Dask, and one
estimator must not load the other's library."""

from importlib import import_module


def lazy_attributes(package, table, namespace):
    """``(__getattr__, __dir__)`` for the module ``package`` whose globals are ``namespace``:
    ``table`` maps a public name to the module defining it (relative to ``package``). The first
    access imports that module and stores the value in ``namespace``, so later look-ups are
    plain attribute reads."""

    def __getattr__(name):
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module, package), name)
        namespace[name] = value
        return value

    def __dir__():
        return sorted(set(namespace) | set(table))

    return __getattr__, __dir__

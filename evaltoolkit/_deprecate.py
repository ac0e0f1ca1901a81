"""Renamed keywords: the old spelling keeps working for one release, with a ``DeprecationWarning``.

Every renamed keyword of the public API goes through :func:`renamed_kwargs`, which records the rename in
:data:`RENAMED` (read by ``tests/test_api_consistency.py`` and listed in the README's *Deprecations*
section), so the old spellings can be removed in one place in release :data:`REMOVED_IN`.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["REMOVED_IN", "RENAMED", "renamed_kwargs", "warn_renamed"]

#: The release that removes the old spellings deprecated here.
REMOVED_IN = "0.3.0"

#: ``{"module.function": {old keyword: new keyword}}`` for every function wrapped by :func:`renamed_kwargs`.
RENAMED: dict[str, dict[str, str]] = {}

F = TypeVar("F", bound=Callable[..., Any])


_SPELLING = {"keyword": "{}=", "attribute": ".{}", "protocol key": "{}:", "option": "{}", "key": "{!r}"}


def warn_renamed(what: str, old: str, new: str, *, kind: str = "keyword", stacklevel: int = 3) -> None:
    """Issue the ``DeprecationWarning`` for a renamed keyword, attribute, protocol key or option.

    Parameters
    ----------
    what : str
        Where the name is used, e.g. ``"score()"`` or ``"ITSResult"``.
    old, new : str
        The old and the new spelling.
    kind : {"keyword", "attribute", "protocol key", "option", "key"}, default "keyword"
        What is renamed; sets how the names are written (``se=``, ``.se``, ``se:``, ``--se``, ``'se'``).
    stacklevel : int, default 3
        Passed to :func:`warnings.warn` (3 points at the caller of the function that calls this).

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_renamed("f()", "patient", "subject")
    >>> print(caught[0].message)  # doctest: +NORMALIZE_WHITESPACE
    f(): the keyword patient= is deprecated, use subject= instead (patient= will be removed in release
    0.3.0)
    """
    form = _SPELLING[kind]
    o, n = form.format(old), form.format(new)
    warnings.warn(
        f"{what}: the {kind} {o} is deprecated, use {n} instead "
        f"({o} will be removed in release {REMOVED_IN})",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def renamed_kwargs(**renames: str) -> Callable[[F], F]:
    """Decorator: accept the old keyword names ``old=new`` for one release, with a ``DeprecationWarning``.

    The old keyword's value is passed on under the new name. Passing both the old and the new name is a
    ``TypeError`` (as for any keyword given twice). The decorated function's signature shows only the new
    names.

    Parameters
    ----------
    **renames : str
        ``old_name="new_name"`` pairs; each new name must be a parameter of the decorated function.

    Returns
    -------
    callable
        The decorator.

    Examples
    --------
    >>> import warnings
    >>> @renamed_kwargs(patient="subject")
    ... def f(*, subject: str) -> str:
    ...     return subject
    >>> f(subject="patient_id")
    'patient_id'
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     f(patient="patient_id")
    'patient_id'
    >>> caught[0].category.__name__
    'DeprecationWarning'
    """

    def decorate(func: F) -> F:
        params = inspect.signature(func).parameters
        for old, new in renames.items():
            if new not in params:
                raise TypeError(f"renamed_kwargs: {func.__qualname__} has no parameter {new!r}")
            if old in params:
                raise TypeError(f"renamed_kwargs: {func.__qualname__} still has the old parameter {old!r}")
        where = f"{func.__module__}.{func.__qualname__}"
        RENAMED.setdefault(where, {}).update(renames)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(
                            f"{func.__name__}() got both {old}= (deprecated) and {new}=; pass only {new}="
                        )
                    warn_renamed(func.__name__ + "()", old, new)
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        wrapper.__deprecated_kwargs__ = dict(renames)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate

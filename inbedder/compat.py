"""Transitional help while callers move to keyword-only options.

Public functions take their options past the first two arguments by keyword only. Callers
written before may still pass them by position through :func:`keyword_only_after`, with a
DeprecationWarning naming the options; once no caller does, drop the decorator.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def keyword_only_after(count: int) -> Callable[[F], F]:
    """Accept the keyword-only parameters of the decorated function by position, after ``count`` arguments."""

    def decorate(function: F) -> F:
        parameters = inspect.signature(function).parameters.values()
        names = [parameter.name for parameter in parameters if parameter.kind is parameter.KEYWORD_ONLY]

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if len(args) > count:
                extra = args[count:]
                if len(extra) > len(names):
                    raise TypeError(f"{function.__name__}() takes at most {count + len(names)} positional arguments")
                for name, value in zip(names, extra):
                    if name in kwargs:
                        raise TypeError(f"{function.__name__}() got multiple values for argument {name!r}")
                    kwargs[name] = value
                warnings.warn(
                    f"pass {', '.join(names[:len(extra)])} to {function.__name__}() by keyword",
                    DeprecationWarning, stacklevel=2,
                )
                args = args[:count]
            return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate

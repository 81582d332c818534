"""The override patterns of a merge configuration, bounded: compile size before compiling, match time per
name and per merge.

The ``regex`` module expands counted repetitions when it compiles: ``((a{1000}){1000}){1000}`` asks for
10^9 nodes (gigabytes) and ``a{4294967294}`` alone for 4 * 10^9.  :func:`check_pattern` estimates that
size from the pattern text and refuses it before :func:`regex.compile` sees it.  Catastrophic backtracking
cannot be bounded that way: :class:`RegexClock` gives each search at most :data:`REGEX_SECONDS` and all
the searches of one merge together at most :data:`REGEX_TOTAL_SECONDS`.
"""

from __future__ import annotations

import re
import time

import regex

from netspectra.constraints import short_repr
from netspectra.errors import UsageError

#: Longest an override pattern may take on one tensor name (regex's own time bound).
REGEX_SECONDS = 1.0
#: Longest all the override patterns may take on all the tensor names of one merge together.
REGEX_TOTAL_SECONDS = 10.0
#: Longest pattern accepted, in characters (a real one is a few dozen).
MAX_PATTERN_CHARS = 1000
#: Largest estimated compiled size accepted (:func:`pattern_size`); about 300 bytes each when compiled.
MAX_PATTERN_SIZE = 20_000

_COUNT = re.compile(r"\{(\d*)(?:,(\d*))?\}")


def pattern_size(pattern: str, limit: int = MAX_PATTERN_SIZE) -> int:
    """Estimated number of nodes ``regex.compile`` builds: every atom (character, escape, class) counts 1,
    a group the sum of its contents (all branches), and a counted repetition ``{m}``, ``{m,}``, ``{m,n}``
    multiplies what it repeats by max(m, 1) (the compiled form repeats the mandatory part).  Counting stops
    past ``limit`` (the value returned is then above it).
    """
    totals, last, i, n = [0], 0, 0, len(pattern)
    while i < n and totals[-1] <= limit:
        char = pattern[i]
        if char == "\\":
            i += 2
            if i < n and pattern[i] == "{" and pattern[i - 1] in "pPNxuUgk":
                end = pattern.find("}", i)
                i = n if end < 0 else end + 1
            last = 1
        elif char == "[":
            i = _class_end(pattern, i)
            last = 1
        elif char == "(":
            totals.append(0)
            last, i = 0, i + 1
            continue
        elif char == ")":
            last = max(totals.pop(), 1) if len(totals) > 1 else 1
            i += 1
        elif char == "{" and (count := _COUNT.match(pattern, i)):
            times = max(int(count.group(1) or 0), 1)
            totals[-1] += last * (times - 1)
            last *= times
            i = count.end()
            continue
        elif char in "*+?|":
            last = 0 if char == "|" else last
            i += 1
            continue
        else:
            last, i = 1, i + 1
        totals[-1] += last
    return totals[-1] if len(totals) == 1 else max(totals[-1], sum(totals))


def check_pattern(pattern: object, where: str) -> None:
    """Refuse a pattern too long or too large to compile safely (:func:`pattern_size`), then compile it.

    Raises
    ------
    UsageError
        Not a string, longer than :data:`MAX_PATTERN_CHARS`, an estimated size above
        :data:`MAX_PATTERN_SIZE`, or an invalid regular expression.
    """
    if not isinstance(pattern, str):
        raise UsageError(f"{where}: invalid regular expression {short_repr(pattern)}: not a string")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise UsageError(f"{where}: the pattern has {len(pattern)} characters, more than {MAX_PATTERN_CHARS}")
    size = pattern_size(pattern)
    if size > MAX_PATTERN_SIZE:
        raise UsageError(
            f"{where}: pattern {short_repr(pattern)} would compile to more than {MAX_PATTERN_SIZE} nodes "
            "(nested counted repetitions): simplify it"
        )
    try:
        regex.compile(pattern)
    except (regex.error, TypeError, ValueError, OverflowError) as exc:
        raise UsageError(f"{where}: invalid regular expression {short_repr(pattern)}: {exc}") from None


class RegexClock:
    """The matching time left to one merge: each search gets at most :data:`REGEX_SECONDS`, all of them
    together at most ``total`` seconds."""

    def __init__(self, total: float = REGEX_TOTAL_SECONDS) -> None:
        self.total = total
        self.left = total

    def search(self, pattern: str, name: str) -> bool:
        """``regex.search(pattern, name)`` within the time left.

        Raises
        ------
        UsageError
            When the search takes longer than :data:`REGEX_SECONDS` (catastrophic backtracking), or the
            searches of this merge together longer than ``total``.
        """
        if self.left <= 0:
            raise self._spent()
        allowed = min(REGEX_SECONDS, self.left)
        start = time.monotonic()
        try:
            return regex.search(pattern, name, timeout=allowed) is not None
        except TimeoutError:
            if allowed < REGEX_SECONDS:
                raise self._spent() from None
            raise UsageError(
                f"override {short_repr(pattern)}: matching {short_repr(name)} took over {REGEX_SECONDS:g} s "
                "(catastrophic backtracking): simplify the pattern"
            ) from None
        finally:
            self.left -= time.monotonic() - start

    def _spent(self) -> UsageError:
        return UsageError(
            f"overrides: matching the patterns against the tensor names took over {self.total:g} s in all "
            "(catastrophic backtracking): simplify the patterns"
        )


def _class_end(pattern: str, start: int) -> int:
    """Index after the character class opening at ``start`` (nested sets and escapes allowed)."""
    depth, i, n = 0, start, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            depth += 1
            if pattern.startswith("[^]", i) or pattern.startswith("[]", i):
                i += 2 if pattern[i + 1] == "]" else 3
                continue
        elif char == "]":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return n

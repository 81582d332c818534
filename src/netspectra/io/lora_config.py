"""The settings of a PEFT LoRA adapter (``adapter_config.json``), resolved per module as PEFT resolves them.

PEFT (``LoraModel._create_and_replace`` with ``peft.utils.other.get_pattern_key``, peft 0.21) gives the
module named ``name`` in the model (the adapter's key without ``base_model.model.``) the rank and alpha

    r     = rank_pattern[k]    for the first key k, in the file's order, with re.match(rf"(.*\\.)?({k})$", name)
    alpha = alpha_pattern[k]   likewise, else lora_alpha

and without a matching key ``r`` and ``lora_alpha`` (PEFT's defaults 8 and 8).  A key is a regular
expression that must match the whole name or a suffix of it starting after a dot: ``v_proj`` names
``model.layers.3.self_attn.v_proj``, and ``layer\\.[0-2]\\..*value`` names ``encoder.layer.1.attention.self.value``.
The update is scaled by s = alpha / r (LoRA, Hu et al. 2021, arXiv:2106.09685, eq. 3) or s = alpha / sqrt(r)
(``use_rslora``, Kalajdzievski 2023, arXiv:2312.03732).

The keys come from a file: each is bounded in size before it is compiled
(:func:`netspectra.merge.patterns.check_pattern`), must be a valid Python ``re`` expression as PEFT needs,
and is matched with a time bound (:data:`MATCH_SECONDS` a match, :data:`TOTAL_MATCH_SECONDS` an adapter),
so catastrophic backtracking is refused, not waited for.  LoRA variants whose merged weight is not
W + s B A (DoRA aside, :mod:`netspectra.io.lora_update` merges it) are refused by name.
"""

from __future__ import annotations

import math
import re
import time

import regex

from ..constraints import Interval, check_value, short_repr
from ..errors import SourceError, UsageError
from ..merge.patterns import check_pattern

#: PEFT's defaults for ``r`` and ``lora_alpha`` (``peft.LoraConfig``).
DEFAULT_RANK, DEFAULT_ALPHA = 8, 8
#: Longest one pattern key may take to match one module name, and all of an adapter's matches together.
MATCH_SECONDS, TOTAL_MATCH_SECONDS = 1.0, 10.0
#: adapter_config.json fields of LoRA variants PEFT merges otherwise than W + s B A, or not at all.
UNMERGED_VARIANTS = {
    "arrow_config": "Arrow routing",
    "alora_invocation_tokens": "activated LoRA (aLoRA)",
    "use_bdlora": "block-diagonal LoRA",
    "kasa_config": "KaSA",
    "use_qalora": "QA-LoRA",
}


class MatchClock:
    """The matching time left to one adapter's pattern keys, in seconds."""

    def __init__(self, total: float = TOTAL_MATCH_SECONDS) -> None:
        self.left = total


class PatternTable:
    """A ``rank_pattern`` or ``alpha_pattern`` of adapter_config.json: its keys checked and compiled, looked
    up as ``peft.utils.other.get_pattern_key`` does, within a shared time budget."""

    def __init__(self, patterns: object, field: str, where: str, clock: MatchClock) -> None:
        if patterns is None:
            patterns = {}
        if not isinstance(patterns, dict):
            raise SourceError(f"{where}: {field} = {short_repr(patterns)}: must be a JSON object")
        self.field, self.where, self.clock = field, where, clock
        self.entries: list[tuple[str, regex.Pattern[str], object]] = []
        for key, value in patterns.items():
            whole = rf"(.*\.)?({key})$"
            try:
                check_pattern(whole, f"{where}: {field} key {short_repr(key)}")
            except UsageError as exc:
                raise SourceError(str(exc)) from None
            try:
                re.compile(whole)
            except (re.error, OverflowError, RecursionError) as exc:
                raise SourceError(f"{where}: {field} key {short_repr(key)} is not a Python regular expression: {exc}") from None
            self.entries.append((key, regex.compile(whole), value))
        self.exact = dict(patterns)

    def lookup(self, name: str) -> tuple[bool, object]:
        """(found, value): the value of the first key matching ``name``, else of the key equal to ``name``
        (PEFT falls back to ``patterns.get(name)``), else (False, None).

        Raises
        ------
        SourceError
            A match took over :data:`MATCH_SECONDS`, or the matches of this adapter together over
            :data:`TOTAL_MATCH_SECONDS`.
        """
        for key, pattern, value in self.entries:
            if self.clock.left <= 0:
                raise SourceError(
                    f"{self.where}: matching the rank_pattern/alpha_pattern keys against the module names took over "
                    f"{TOTAL_MATCH_SECONDS:g} s in all (catastrophic backtracking): not read"
                )
            allowed = min(MATCH_SECONDS, self.clock.left)
            start = time.monotonic()
            try:
                found = pattern.match(name, timeout=allowed) is not None
            except TimeoutError:
                raise SourceError(
                    f"{self.where}: {self.field} key {short_repr(key)}: matching {short_repr(name)} took over "
                    f"{allowed:g} s (catastrophic backtracking): not read"
                ) from None
            finally:
                self.clock.left -= time.monotonic() - start
            if found:
                return True, value
        return (True, self.exact[name]) if name in self.exact else (False, None)


class LoraSettings:
    """adapter_config.json of a PEFT LoRA adapter: the rank and scale of each module, ``fan_in_fan_out``,
    ``use_dora``.

    Raises
    ------
    SourceError
        Not a LoRA adapter (``peft_type``), a variant PEFT does not merge as W + s B A
        (:data:`UNMERGED_VARIANTS`), or a pattern key refused by :class:`PatternTable`.
    """

    def __init__(self, config: dict, where: str, label: str) -> None:
        if str(config.get("peft_type", "LORA")).upper() != "LORA":
            raise SourceError(
                f"{where}: peft_type {config.get('peft_type')!r:.40} is not a LoRA adapter (netspectra reads LoRA adapters)"
            )
        for field, variant in UNMERGED_VARIANTS.items():
            if config.get(field):
                raise SourceError(
                    f"{where}: {field} is set: a {variant} adapter is not merged as W + (alpha/r) B A (netspectra reads "
                    "LoRA, rsLoRA and DoRA adapters)"
                )
        self.config, self.label = config, label
        clock = MatchClock()
        self.ranks = PatternTable(config.get("rank_pattern"), "rank_pattern", label, clock)
        self.alphas = PatternTable(config.get("alpha_pattern"), "alpha_pattern", label, clock)
        self.fan_in_fan_out = bool(config.get("fan_in_fan_out", False))
        self.use_dora = bool(config.get("use_dora", False))

    def rank(self, module: str) -> int:
        """r of ``module``: its ``rank_pattern`` value, else ``r``.

        Raises
        ------
        SourceError
            The value is not an integer >= 1.
        """
        found, rank = self.ranks.lookup(module)
        where = "rank_pattern" if found else "r"
        rank = rank if found else self.config.get("r", DEFAULT_RANK)
        check_value(f"{self.label}: {where} of {module}", rank, [Interval(int, 1, None)], SourceError)
        return int(rank)  # type: ignore[call-overload]

    def scale(self, module: str, rank: int) -> float:
        """s = alpha / r, or alpha / sqrt(r) with ``use_rslora``; alpha from ``alpha_pattern``, else ``lora_alpha``.

        Raises
        ------
        SourceError
            alpha is not a finite number.
        """
        found, alpha = self.alphas.lookup(module)
        where = "alpha_pattern" if found else "lora_alpha"
        alpha = alpha if found else self.config.get("lora_alpha", DEFAULT_ALPHA)
        check_value(f"{self.label}: {where} of {module}", alpha, [Interval(float, None, None)], SourceError)
        return float(alpha) / (math.sqrt(rank) if self.config.get("use_rslora") else rank)  # type: ignore[arg-type]

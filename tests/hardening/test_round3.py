"""Security round three (issue 25): every case of ``tests/round3/`` ends as it must (see that package)."""

from __future__ import annotations

import pytest

from round3 import all_cases, verify

pytestmark = pytest.mark.hardening

_CASES = all_cases()


@pytest.mark.parametrize("case", [case for _, case in _CASES], ids=[name for name, _ in _CASES])
def test_attack_case(case, tmp_path):
    verify(case, tmp_path / "case")

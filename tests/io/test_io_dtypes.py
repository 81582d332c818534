import numpy as np
import pytest

from netspectra.io import dtypes

torch = pytest.importorskip("torch")


def _all_bytes():
    return np.arange(256, dtype=np.uint8)


@pytest.mark.parametrize(
    "name, torch_dtype, max_finite",
    [("F8_E4M3", "float8_e4m3fn", 448.0), ("F8_E5M2", "float8_e5m2", 57344.0)],
)
def test_fp8_tables_match_torch(name, torch_dtype, max_finite):
    raw = _all_bytes()
    ours = dtypes.decode(raw, name)
    ref = torch.from_numpy(raw.copy()).view(getattr(torch, torch_dtype)).float().numpy()
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    finite = ~np.isnan(ref)
    np.testing.assert_array_equal(ours[finite], ref[finite])
    assert np.nanmax(ours[np.isfinite(ours)]) == max_finite


def test_fp8_e4m3_has_no_inf_and_two_nans():
    t = dtypes.FP8_E4M3_TABLE
    assert not np.isinf(t).any()
    assert list(np.flatnonzero(np.isnan(t))) == [0x7F, 0xFF]
    assert t[0x01] == 2.0**-9  # smallest subnormal
    t5 = dtypes.FP8_E5M2_TABLE
    assert t5[0x7C] == np.inf and t5[0xFC] == -np.inf and np.isnan(t5[0x7D])


def test_bf16_is_exact_upper_half():
    x = torch.randn(1000).to(torch.bfloat16)
    raw = x.view(torch.int16).numpy().view(np.uint16)
    np.testing.assert_array_equal(dtypes.decode(raw, "BF16"), x.float().numpy())


def test_result_dtypes():
    assert dtypes.decode(np.zeros(2, "<f8"), "F64").dtype == np.float64
    assert dtypes.decode(np.zeros(2, "<i8"), "I64").dtype == np.float64
    assert dtypes.decode(np.zeros(2, "<f2"), "F16").dtype == np.float32
    assert dtypes.decode(np.zeros(2, "i1"), "I8").dtype == np.float32
    assert dtypes.from_numpy(np.float16) == "F16"
    assert dtypes.from_torch(torch.bfloat16) == "BF16"

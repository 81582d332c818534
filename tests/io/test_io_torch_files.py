import pickle
import subprocess
import sys
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

from fixtures_models import (
    malicious_payloads,
    save_torch,
    tiny_conv_net,
    tiny_torch_mlp,
    write_malicious_torch_file,
    write_torch_zip_with_pickle,
)
from netspectra.errors import SourceError, UnsafeFileError
from netspectra.io import iter_weight_matrices, open_source

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64])
def test_state_dict_values_match_torch(tmp_path, dtype):
    model = tiny_torch_mlp().to(dtype)
    sd = model.state_dict()
    path = save_torch(tmp_path / "m.pt", sd)
    src = open_source(path)
    assert src.format == "torch"
    records = {r.name: r for r in src.tensors()}
    assert list(records) == list(sd)
    for name, t in sd.items():
        got = records[name].load()
        assert got.shape == tuple(t.shape)
        want = t.double() if dtype == torch.float64 else t.float()
        np.testing.assert_array_equal(got, want.numpy())
    wms = list(iter_weight_matrices(path))
    assert [w.name for w in wms] == ["0.weight", "3.weight"]
    assert wms[0].dtype == {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64"}[dtype]


def test_conv_checkpoint(tmp_path):
    net = tiny_conv_net()
    path = save_torch(tmp_path / "conv.pth", net.state_dict())
    wms = list(iter_weight_matrices(path))
    assert [(w.name, w.kind, w.num_matrices, w.matrix_shape) for w in wms] == [
        ("0.weight", "conv2d", 9, (8, 3)),
        ("3.weight", "conv2d", 6, (8, 4)),
        ("6.weight", "linear", 1, (10, 4)),
    ]
    w = net[3].weight.detach().numpy()  # (4, 8, 2, 3)
    x = wms[1].load()
    assert x.shape == (6, 8, 4)
    for p in range(6):
        np.testing.assert_array_equal(x[p], w[:, :, p // 3, p % 3].T)


def test_nested_checkpoint_views_and_tied_storage(tmp_path):
    base = torch.randn(6, 4)
    ckpt = {
        "epoch": 3,
        "state_dict": OrderedDict(
            [("enc.weight", base), ("dec.weight", base), ("t.weight", base.t()), ("slice.weight", base[2:, 1:3])]
        ),
        "optimizer": {"state": {0: {"exp_avg": torch.randn(6, 4)}}},
        "extra": [torch.randn(3, 3)],
        "p": torch.nn.Parameter(torch.randn(2, 5)),
    }
    path = save_torch(tmp_path / "ckpt.ckpt", ckpt)
    recs = {r.name: r for r in open_source(path).tensors()}
    assert set(recs) == {"state_dict.enc.weight", "state_dict.t.weight", "state_dict.slice.weight", "extra.0", "p"}
    np.testing.assert_array_equal(recs["state_dict.t.weight"].load(), base.t().numpy())
    np.testing.assert_array_equal(recs["state_dict.slice.weight"].load(), base[2:, 1:3].numpy())
    np.testing.assert_array_equal(recs["p"].load(), ckpt["p"].detach().numpy())


def test_reader_does_not_need_torch(tmp_path):
    sd = tiny_torch_mlp().state_dict()
    path = save_torch(tmp_path / "m.pt", sd)
    np.save(tmp_path / "ref.npy", sd["0.weight"].numpy())
    code = (
        "import sys\n"
        "class _NoTorch:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch' or name.startswith('torch.'):\n"
        "            raise ImportError('torch hidden by the test')\n"
        "sys.meta_path.insert(0, _NoTorch())\n"
        "import numpy as np\n"
        "from netspectra.io import iter_weight_matrices\n"
        f"w = next(iter(iter_weight_matrices({str(path)!r})))\n"
        f"assert np.array_equal(w.load()[0], np.load({str(tmp_path / 'ref.npy')!r}))\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr


@pytest.mark.parametrize("payload", ["os.system", "builtins.exec", "subprocess"])
@pytest.mark.hardening
def test_malicious_pickle_is_refused(tmp_path, payload):
    marker = tmp_path / "pwned"
    path = write_malicious_torch_file(tmp_path / "evil.pt", marker, payload)
    with pytest.raises(UnsafeFileError) as info:
        open_source(path)
    msg = str(info.value)
    assert "evil.pt" in msg and "refused" in msg and "\n" not in msg
    assert any(g in msg for g in ("system", "exec", "subprocess", "call"))
    assert not marker.exists()


@pytest.mark.hardening
def test_malicious_object_saved_by_torch_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = save_torch(tmp_path / "evil.pt", {"w": torch.ones(2, 2), "x": malicious_payloads(marker)["os.system"]})
    with pytest.raises(UnsafeFileError, match="system"):
        list(iter_weight_matrices(path))
    assert not marker.exists()


@pytest.mark.hardening
def test_pickled_module_is_refused_with_hint(tmp_path):
    path = save_torch(tmp_path / "model.pt", tiny_torch_mlp())
    with pytest.raises(UnsafeFileError, match=r"torch\.nn\..*state_dict"):
        open_source(path)


def test_legacy_format(tmp_path):
    sd = tiny_torch_mlp().state_dict()
    path = save_torch(tmp_path / "legacy.pt", sd, legacy=True)
    assert not zipfile.is_zipfile(path)
    wms = list(iter_weight_matrices(path))
    assert [w.name for w in wms] == ["0.weight", "3.weight"]
    np.testing.assert_array_equal(wms[0].load()[0], sd["0.weight"].numpy())
    marker = tmp_path / "pwned"
    evil = save_torch(tmp_path / "evil_legacy.pt", {"x": malicious_payloads(marker)["os.system"]}, legacy=True)
    with pytest.raises(UnsafeFileError, match="evil_legacy.pt: refused to load: the pickle asks for global .*system"):
        open_source(evil)
    assert not marker.exists()


@pytest.mark.hardening
def test_corrupt_torch_files(tmp_path):
    path = save_torch(tmp_path / "m.pt", tiny_torch_mlp().state_dict())
    data = path.read_bytes()
    bad = tmp_path / "trunc.pt"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(SourceError, match="trunc.pt"):
        list(iter_weight_matrices(bad))
    bad.write_bytes(b"hello world, not a checkpoint")
    with pytest.raises(SourceError, match="not a torch checkpoint"):
        open_source(bad)
    # data.pkl fine, storage missing
    pkl = zipfile.ZipFile(path).read("m/data.pkl")
    miss = write_torch_zip_with_pickle(tmp_path / "miss.pt", pkl)
    with pytest.raises(SourceError, match="storage '0' is missing"):
        open_source(miss)
    # garbage pickle
    garbage = write_torch_zip_with_pickle(tmp_path / "garbage.pt", b"\x80\x02}q\x00(X\x01")
    with pytest.raises(SourceError, match="corrupt"):
        open_source(garbage)
    # a storage shorter than its tensor claims
    short = write_torch_zip_with_pickle(tmp_path / "short.pt", pkl, {str(i): b"\0" * 4 for i in range(10)})
    with pytest.raises(SourceError, match="short.pt"):
        open_source(short)


def _bu(x: str) -> bytes:
    b = x.encode()
    return b"X" + len(b).to_bytes(4, "little") + b


def _tensor_pickle(build: bool) -> bytes:
    """Hand-assembled pickle of one float tensor (2x2), optionally followed by BUILD on it."""
    p = b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(("
    p += _bu("storage") + b"ctorch\nFloatStorage\n" + _bu("0") + _bu("cpu") + b"K\x04tQ"
    p += b"K\x00K\x02K\x02\x86K\x02K\x01\x86\x89)tR"
    if build:
        p += b"}" + _bu("storage") + _bu("/etc/passwd") + b"sb"
    return p + b"."


@pytest.mark.hardening
def test_hand_made_pickle_and_build_refused(tmp_path):
    data = np.arange(4, dtype="<f4").tobytes()
    ok = write_torch_zip_with_pickle(tmp_path / "t.pt", _tensor_pickle(False), {"0": data})
    (rec,) = open_source(ok).tensors()
    assert rec.name == "tensor"
    np.testing.assert_array_equal(rec.load(), np.arange(4, dtype=np.float32).reshape(2, 2))
    evil = write_torch_zip_with_pickle(tmp_path / "b.pt", _tensor_pickle(True), {"0": data})
    with pytest.raises(SourceError, match="BUILD"):
        open_source(evil)


@pytest.mark.hardening
def test_other_globals_refused(tmp_path):
    import argparse

    path = write_torch_zip_with_pickle(tmp_path / "empty.pt", pickle.dumps(OrderedDict(), protocol=2))
    assert list(open_source(path).tensors()) == []
    evil = write_torch_zip_with_pickle(tmp_path / "cls.pt", pickle.dumps({"hparams": argparse.Namespace(lr=1)}, protocol=2))
    with pytest.raises(UnsafeFileError, match="argparse.Namespace"):
        open_source(evil)


def test_compressed_members_are_read_too(tmp_path):
    sd = tiny_torch_mlp().state_dict()
    src_path = save_torch(tmp_path / "m.pt", sd)
    deflated = tmp_path / "deflated.pt"
    with zipfile.ZipFile(src_path) as zin, zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info.filename))
    recs = {r.name: r for r in open_source(deflated).tensors()}
    for name, t in sd.items():
        np.testing.assert_array_equal(recs[name].load(), t.float().numpy())


def test_legacy_format_without_torch(tmp_path, monkeypatch):
    path = save_torch(tmp_path / "legacy.pt", tiny_torch_mlp().state_dict(), legacy=True)
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(
        SourceError, match=r"legacy \(before PyTorch 1\.6\) checkpoint: reading it safely needs torch \(pip install"
    ):
        open_source(path)


@pytest.mark.hardening
def test_plain_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "weights.bin"
    path.write_bytes(pickle.dumps({"w": malicious_payloads(marker)["os.system"]}, protocol=2))
    with pytest.raises(UnsafeFileError, match="plain pickle"):
        open_source(path)
    assert not marker.exists()

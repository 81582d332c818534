import numpy as np
import pytest

from fixtures_models import tiny_attention_model, tiny_conv_net, tiny_torch_mlp
from netspectra.io import iter_weight_matrices, open_source

torch = pytest.importorskip("torch")
nn = torch.nn


def test_mlp_module():
    model = tiny_torch_mlp()
    src = open_source(model)
    assert src.format == "module" and src.path is None and src.config == {}
    wms = list(iter_weight_matrices(model))
    assert [(w.name, w.kind, w.layer_index, w.source) for w in wms] == [
        ("0.weight", "linear", 0, "module"),
        ("3.weight", "linear", 1, "module"),
    ]
    np.testing.assert_array_equal(wms[0].load()[0], model[0].weight.detach().numpy())
    np.testing.assert_array_equal(wms[1].load()[0], model[3].weight.detach().numpy().T)
    # the returned array never aliases the live parameter
    x = wms[0].load()
    x[...] = 0
    assert model[0].weight.abs().sum() > 0


def test_conv_module():
    net = tiny_conv_net()
    wms = list(iter_weight_matrices(net))
    assert [(w.name, w.kind, w.num_matrices) for w in wms] == [
        ("0.weight", "conv2d", 9),
        ("3.weight", "conv2d", 6),
        ("6.weight", "linear", 1),
    ]
    w = net[0].weight.detach().numpy()  # (8, 3, 3, 3)
    x = wms[0].load()
    assert x.shape == (9, 8, 3)
    np.testing.assert_array_equal(x[5], w[:, :, 1, 2])


def test_attention_split_and_tied_embedding():
    model = tiny_attention_model(d=8, heads=2)
    wms = list(iter_weight_matrices(model))
    names = [w.name for w in wms]
    assert names == [
        "embed.weight",
        "attn.in_proj_weight[q]",
        "attn.in_proj_weight[k]",
        "attn.in_proj_weight[v]",
        "attn.out_proj.weight",
    ]  # (head.weight is the tied embedding: reported once)
    assert [w.kind for w in wms] == ["embedding", "attention_q", "attention_k", "attention_v", "linear"]
    w = model.attn.in_proj_weight.detach().numpy()
    for i in range(3):
        np.testing.assert_array_equal(wms[1 + i].load()[0], w[8 * i : 8 * (i + 1)])


def test_separate_qkv_lstm_bf16_and_transformers_conv1d():
    class Conv1D(nn.Module):  # stands in for transformers.pytorch_utils.Conv1D (weight stored (in, out))
        def __init__(self, nf, nx):
            super().__init__()
            self.weight = nn.Parameter(torch.randn(nx, nf))
            self.bias = nn.Parameter(torch.zeros(nf))

    Conv1D.__module__ = "transformers.pytorch_utils"

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = Conv1D(3 * 6, 6)
            self.mha = nn.MultiheadAttention(6, 2, kdim=4, vdim=5)
            self.rnn = nn.LSTM(3, 5)
            self.fc = nn.Linear(6, 7).to(torch.bfloat16)

    block = Block()
    wms = {w.name: w for w in iter_weight_matrices(block)}
    assert wms["c_attn.weight[q]"].kind == "attention_q" and wms["c_attn.weight[q]"].matrix_shape == (6, 6)
    assert wms["mha.k_proj_weight"].kind == "attention_k" and wms["mha.k_proj_weight"].matrix_shape == (6, 4)
    assert wms["rnn.weight_ih_l0"].kind == "linear" and wms["rnn.weight_hh_l0"].matrix_shape == (20, 5)
    assert wms["fc.weight"].dtype == "BF16"
    np.testing.assert_array_equal(wms["fc.weight"].load()[0], block.fc.weight.float().detach().numpy())
    np.testing.assert_array_equal(wms["c_attn.weight[v]"].load()[0], block.c_attn.weight.detach().numpy()[:, 12:])

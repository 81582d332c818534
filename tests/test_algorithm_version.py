"""``netspectra.version.ALGORITHM_VERSION`` moves with the golden table: its values cannot change without a bump.

A results store serves a run only to a netspectra of the same algorithm version; a change of the numbers
that kept the version would have the store answer "cached" with the old values.
"""

import hashlib
from pathlib import Path

import netspectra
from netspectra.diagnose.model import ModelReport
from netspectra.version import ALGORITHM_VERSION

GOLDEN = Path(__file__).resolve().parent / "data" / "minilm_layers.csv"

#: sha256 of tests/data/minilm_layers.csv (line ends normalised) under each algorithm version.
GOLDEN_DIGESTS = {
    1: "c5e92252c10c6c5437b77e5a51201ef406b38a5e9ea4faa0de1d5167201932e7",
    2: "1997625620b7d3976c3a687eace444801b045ddce3f4cd37cb92dcfebfe68517",
    3: "c4d111618f13c6b6213a965760473c3f586b1a225e45602f18ea5c003cfa35e8",
    4: "27273fca15ae1d5ce0ee669d187bc7635b14f7a2205296a51f21749f18a2df66",
    5: "384e24bc3521386e80526bce57aae92510ca8ca8c22010bbbc4efe2c567979cc",
    6: "bcffedb94fb2200a4f50ca7999ffc463a393e360bfd16a43254f15c2afc6f6ac",
    7: "7e5b8f8b8cc2938cbb39b5af422fce47303fa0a2b5625abd77d1718f495a07ec",
    8: "2882ace7a323a8e89610166300064227636d52904ba6a7af454925eb8be7011d",
    9: "bfe12829bb84823632f7ad594a1422219d4e597301181aa69e92c9e2d68ab535",
    10: "bfe12829bb84823632f7ad594a1422219d4e597301181aa69e92c9e2d68ab535",  # tail-only rows only (version.py)
    11: "7418d8d92e05bcd6e68f5991bedf56b219d192b700c93ddd8d7a752f0f0afc25",
}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()


def test_the_golden_table_is_the_one_of_this_algorithm_version():
    digest = _digest(GOLDEN)
    assert max(GOLDEN_DIGESTS) == ALGORITHM_VERSION, (
        f"ALGORITHM_VERSION is {ALGORITHM_VERSION} but the last digest recorded here is version {max(GOLDEN_DIGESTS)}: "
        "record the golden table's digest under the new version"
    )
    assert digest == GOLDEN_DIGESTS[ALGORITHM_VERSION], (
        f"tests/data/minilm_layers.csv changed (sha256 {digest}) but ALGORITHM_VERSION is still {ALGORITHM_VERSION}: "
        f"rows now hold other values for the same input, so bump ALGORITHM_VERSION to {ALGORITHM_VERSION + 1} in "
        f"src/netspectra/version.py (add the change to its history) and add {ALGORITHM_VERSION + 1}: '{digest}' to "
        "GOLDEN_DIGESTS here; stores then recompute the runs of the old version instead of serving them"
    )


def test_reports_carry_the_version():
    assert netspectra.ALGORITHM_VERSION == ALGORITHM_VERSION
    report = ModelReport(source="m", layers=())
    assert report.algorithm_version == ALGORITHM_VERSION
    assert report.to_dict()["algorithm_version"] == ALGORITHM_VERSION
    assert report.summary.algorithm_version == ALGORITHM_VERSION
    assert report.summary.to_dict()["algorithm_version"] == ALGORITHM_VERSION

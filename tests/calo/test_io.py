import h5py
import numpy as np
import pytest

from physgen.calo.geometry import get_geometry
from physgen.calo.io import (
    CaloFileError,
    ShowerWriter,
    iter_showers,
    open_shower_file,
    read_showers,
    write_showers,
)


def random_showers(n=50, n_voxels=368, seed=0):
    rng = np.random.default_rng(seed)
    energies = rng.uniform(1e3, 1e5, n).astype(np.float32)
    showers = rng.exponential(10.0, (n, n_voxels)) * (rng.random((n, n_voxels)) < 0.3)
    return energies, showers.astype(np.float32)


def write_raw(path, energies, showers):
    with h5py.File(path, "w") as h5:
        h5["incident_energies"] = energies
        h5["showers"] = showers


def test_round_trip_is_exact(tmp_path):
    energies, showers = random_showers()
    path = tmp_path / "a.h5"
    write_showers(path, energies, showers, attrs={"note": "x"})
    energies2, showers2 = read_showers(path)
    assert np.array_equal(energies, energies2)
    assert np.array_equal(showers, showers2)
    with h5py.File(path) as h5:
        assert h5["showers"].compression == "gzip"
        assert h5["incident_energies"].shape == (50, 1)
    info = open_shower_file(path)
    assert info.geometry.name == "ds1-photons" and info.attrs["note"] == "x"


def test_chunks_cover_the_file_in_order(tmp_path):
    energies, showers = random_showers(n=103)
    path = tmp_path / "a.h5"
    write_showers(path, energies, showers, chunk_size=17)
    chunks = list(iter_showers(path, chunk_size=10))
    assert [len(c[0]) for c in chunks] == [10] * 10 + [3]
    assert np.array_equal(np.concatenate([c[1] for c in chunks]), showers)


def test_reads_shared_reference(shared_dir):
    path = shared_dir / "calochallenge" / "g4-ds2-e-1-100GeV" / "g4_ds2_e_1-100GeV_seed201.h5"
    info = open_shower_file(path)
    assert info.geometry.name == "ds2" and info.n_events == 2500


def test_not_hdf5(tmp_path):
    path = tmp_path / "text.h5"
    path.write_text("hello")
    with pytest.raises(CaloFileError, match="not an HDF5 file"):
        open_shower_file(path)


def test_missing_file(tmp_path):
    with pytest.raises(CaloFileError, match="does not exist"):
        open_shower_file(tmp_path / "nothing.h5")


def test_truncated_file(tmp_path):
    energies, showers = random_showers(n=400)
    path = tmp_path / "full.h5"
    write_showers(path, energies, showers)
    data = path.read_bytes()
    cut = tmp_path / "cut.h5"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CaloFileError, match="truncated or corrupt"):
        read_showers(cut)


@pytest.mark.parametrize("missing", ["incident_energies", "showers"])
def test_missing_dataset(tmp_path, missing):
    path = tmp_path / "a.h5"
    energies, showers = random_showers()
    with h5py.File(path, "w") as h5:
        if missing != "incident_energies":
            h5["incident_energies"] = energies.reshape(-1, 1)
        if missing != "showers":
            h5["showers"] = showers
    with pytest.raises(CaloFileError, match=f"missing dataset '{missing}'"):
        open_shower_file(path)


def test_wrong_voxel_count_for_geometry(tmp_path):
    path = tmp_path / "a.h5"
    write_raw(path, *random_showers())
    with pytest.raises(CaloFileError, match="wrong voxel count for geometry ds2"):
        open_shower_file(path, get_geometry("ds2"))


def test_unknown_voxel_count(tmp_path):
    path = tmp_path / "a.h5"
    write_raw(path, *random_showers(n_voxels=100))
    with pytest.raises(CaloFileError, match="no built-in geometry has 100 voxels"):
        open_shower_file(path)


def test_length_mismatch(tmp_path):
    path = tmp_path / "a.h5"
    energies, showers = random_showers()
    write_raw(path, energies[:40].reshape(-1, 1), showers)
    with pytest.raises(CaloFileError, match="length mismatch: 40 incident energies but 50"):
        open_shower_file(path)


def test_empty_file(tmp_path):
    path = tmp_path / "a.h5"
    write_raw(path, np.zeros((0, 1), np.float32), np.zeros((0, 368), np.float32))
    with pytest.raises(CaloFileError, match="no events"):
        open_shower_file(path)


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda e, s: s.__setitem__((7, 3), np.nan), "NaN or inf voxel energy in event 7"),
        (lambda e, s: s.__setitem__((9, 0), np.inf), "NaN or inf voxel energy in event 9"),
        (lambda e, s: s.__setitem__((11, 5), -1.0), "negative voxel energy in event 11"),
        (lambda e, s: e.__setitem__(4, 0.0), "non-positive incident energy at event 4"),
        (lambda e, s: e.__setitem__(5, np.nan), "NaN or inf incident energy at event 5"),
    ],
)
def test_bad_values(tmp_path, corrupt, message):
    energies, showers = random_showers()
    corrupt(energies, showers)
    path = tmp_path / "a.h5"
    write_raw(path, energies.reshape(-1, 1), showers)
    with pytest.raises(CaloFileError, match=message):
        read_showers(path)
    # the evaluator reads generated files without the value check
    assert len(read_showers(path, check_values=False)[0]) == 50


def test_failed_write_leaves_no_file(tmp_path):
    path = tmp_path / "out.h5"
    energies, showers = random_showers()
    with pytest.raises(RuntimeError, match="boom"), ShowerWriter(path, 368) as writer:
        writer.append(energies, showers)
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_non_atomic_writer_keeps_chunks_and_resumes(tmp_path):
    path = tmp_path / "partial.h5"
    energies, showers = random_showers(n=30)
    writer = ShowerWriter(path, 368, atomic=False)
    writer.append(energies[:10], showers[:10])
    # simulate a killed process: the file is readable with the finished chunk
    assert open_shower_file(path).n_events == 10
    writer.close()
    with ShowerWriter(path, 368, atomic=False, resume=True) as writer:
        assert writer.n_events == 10
        writer.append(energies[10:], showers[10:])
    energies2, showers2 = read_showers(path)
    assert np.array_equal(showers2, showers)

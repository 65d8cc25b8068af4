"""The calorimeter evaluation report: figure files, the summary, the ten worst histograms,
the shared colour scale of the average showers and the statistics drawn on the histograms."""

import base64
import io
import json
import re

import numpy as np
import pytest
from PIL import Image

import physgen.calo.report as report
from physgen.calo import report_energy as energy
from physgen.calo import report_histograms as histograms
from physgen.calo import report_showers as showers
from physgen.calo.evaluate import EvaluationConfig, evaluate
from physgen.calo.geometry import get_geometry
from physgen.calo.io import write_showers
from physgen.calo.plots import shared_log_range


def _showers(n, seed, scale=1.0):
    """ds1-photons-shaped showers (368 voxels) with a smooth random energy sharing."""
    rng = np.random.default_rng(seed)
    energies = np.exp(rng.uniform(np.log(1e3), np.log(1e5), n)).astype(np.float32)
    weights = rng.gamma(0.7, 1.0, (n, 368)) * (rng.random((n, 368)) < 0.4)
    showers = weights / weights.sum(1, keepdims=True) * energies[:, None] * 0.9 * scale
    return energies, showers.astype(np.float32)


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    """One evaluation with its report; the report's inputs are kept for further reports."""
    root = tmp_path_factory.mktemp("report")
    for name, seed, scale in (("ref.h5", 0, 1.0), ("gen.h5", 1, 1.08)):
        write_showers(root / name, *_showers(1200, seed, scale))
    out = root / "out"
    (out / "figures").mkdir(parents=True)
    (out / "figures" / "left_by_an_old_report.png").write_bytes(b"old")
    captured = {}
    real = report.write_report

    def capture(path, metrics, specs, geometry, ref_summary, gen_summary):
        captured.update(
            metrics=metrics, specs=specs, geometry=geometry, ref=ref_summary, gen=gen_summary
        )
        return real(path, metrics, specs, geometry, ref_summary, gen_summary)

    report.write_report = capture
    try:
        evaluate(
            root / "gen.h5",
            root / "ref.h5",
            out,
            EvaluationConfig(metrics=("hist", "fpd"), report=True),
            progress=False,
            log=lambda message: None,
        )
    finally:
        report.write_report = real
    return out, captured


def _page(out):
    return (out / "report.html").read_text()


def _section(page, anchor):
    start = page.index(f"id='{anchor}'")
    end = page.find("<h2", start)
    return page[start : end if end > 0 else len(page)]


def test_every_figure_is_a_valid_png_and_pdf(evaluated):
    out, _ = evaluated
    figures = out / "figures"
    pngs = {p.stem for p in figures.glob("*.png")}
    pdfs = {p.stem for p in figures.glob("*.pdf")}
    assert pngs == pdfs and len(pngs) >= 10 + 3 + 2
    for stem in pngs:
        with Image.open(figures / f"{stem}.png") as image:
            image.verify()
        pdf = (figures / f"{stem}.pdf").read_bytes()
        assert pdf.startswith(b"%PDF") and pdf.rstrip().endswith(b"%%EOF")
    # atomic writes: no temporary left behind; files of an earlier report are gone
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert not (figures / "left_by_an_old_report.png").exists()
    page = _page(out)
    for target in re.findall(r"href='(figures/[^']+)'", page):
        assert (out / target).is_file(), target
    assert "src='http" not in page and "<link" not in page and "<script src" not in page


def test_embedded_images_are_the_png_files(evaluated):
    out, _ = evaluated
    page = _page(out)
    for match in re.finditer(
        r"<img id='fig-([^']+)' class='zoom'[^>]*src='data:image/png;base64,([^']+)'", page
    ):
        name, data = match.groups()
        assert base64.b64decode(data) == (out / "figures" / f"{name}.png").read_bytes()


def test_summary_comes_first_then_the_ten_worst_in_order(evaluated):
    out, captured = evaluated
    page = _page(out)
    metrics = json.loads((out / "metrics.json").read_text())
    powers = metrics["separation_power"]
    expected = sorted(powers, key=lambda name: -powers[name])[:10]
    worst = _section(page, "worst")
    table = worst[: worst.index("</table>")]
    names = re.findall(r"<tr><td>\d+</td><td><code>([^<]+)</code>", table)
    assert names == expected
    listed = [float(v) for v in re.findall(r"</code></td><td>[^<]*</td><td>([0-9.]+)</td>", table)]
    assert listed == sorted(listed, reverse=True)
    # each of the ten at full size, as its own figure file
    assert all(
        (out / "figures" / f"worst_{i + 1:02d}_{n}.png").exists() for i, n in enumerate(names)
    )
    assert page.index("id='summary'") < page.index("id='worst'") < page.index("id='official'")
    assert page.index("id='official'") < page.index("id='extra'")
    assert f"{metrics['separation_mean_official']:.4f}" in _section(page, "summary")


def test_every_histogram_is_a_panel_that_opens_large(evaluated):
    out, captured = evaluated
    page = _page(out)
    official = _section(page, "official")
    extra = _section(page, "extra")
    for spec in captured["specs"]:
        section = official if spec.official else extra
        assert f"id='hist-{spec.name}'" in section, spec.name
    # a panel is one cell of its group's figure, cut from the same rendering
    group = [spec for spec in captured["specs"] if spec.name.startswith("e_layer_")]
    with Image.open(out / "figures" / "hist_e_layer.png") as whole:
        whole_width = whole.width
    tile = re.search(r"id='hist-e_layer_00' class='zoom'[^>]*base64,([^']+)'", page).group(1)
    with Image.open(io.BytesIO(base64.b64decode(tile))) as panel:
        assert abs(panel.width - whole_width / min(9, len(group))) <= 1
    assert "id='lightbox'" in page and "ArrowRight" in page


def test_floor_and_excess_in_the_summary(tmp_path):
    """A real evaluation with a floor file (the reference's distribution, another seed, and
    shorter than the reference) and repeated classifier trainings."""
    write_showers(tmp_path / "ref.h5", *_showers(900, 0))
    write_showers(tmp_path / "gen.h5", *_showers(900, 1, 1.08))
    write_showers(tmp_path / "floor.h5", *_showers(700, 2))
    config = EvaluationConfig(
        metrics=("hist", "cls-high", "fpd"), quick=True, repeats=2, report=True
    )
    messages = []
    metrics = evaluate(
        tmp_path / "gen.h5",
        tmp_path / "ref.h5",
        tmp_path / "out",
        config,
        progress=False,
        log=messages.append,
        floor=tmp_path / "floor.h5",
    )
    floor, excess = metrics["floor"], metrics["excess_over_floor"]
    # every sample cut to the floor's 700 showers, and the 8% scale stands above the floor
    assert metrics["n_reference"] == 700 and any("subsampled to 700" in m for m in messages)
    assert floor["separation_etot_over_einc"] < metrics["separation_etot_over_einc"]
    assert floor["auc_high"] < metrics["auc_high"]
    assert excess["auc_high"] == pytest.approx(metrics["auc_high_mean"] - floor["auc_high_mean"])
    assert excess["fpd_err"] == pytest.approx(np.hypot(metrics["fpd_err"], floor["fpd_err"]))
    assert not any(key.endswith("_spread") for key in excess)
    assert len(metrics["classifiers"]["high"]["repeats"]) == 2
    page = (tmp_path / "out" / "report.html").read_text()
    summary = _section(page, "summary")
    assert "Geant4 floor" in summary and "excess over floor" in summary
    assert str(tmp_path / "floor.h5") in page
    assert f"{excess['separation_mean_official']:+.4f}" in summary
    assert report.format_value(excess["fpd"], excess["fpd_err"], signed=True) in summary
    assert "2 trainings" in summary


def test_average_showers_share_one_colour_scale():
    geometry = get_geometry("ds1-photons")
    rng = np.random.default_rng(3)
    reference = rng.gamma(1.0, 5.0, geometry.n_voxels) * (rng.random(geometry.n_voxels) < 0.8)
    generated = reference * 10 + 1e-3  # a separate scale would differ by a factor of ten
    vmin, vmax = shared_log_range(reference, generated)
    assert vmax == generated.max() and vmin <= reference[reference > 0].min()
    figures = showers.average_shower_figures(geometry, reference, generated)
    norms = {
        key: {(image.norm.vmin, image.norm.vmax) for ax in grid.fig.axes for image in ax.images}
        for key, grid in figures.items()
    }
    assert norms["reference"] == norms["generated"] == {(vmin, vmax)}
    ((low, high),) = norms["difference"]
    assert low == -high  # diverging, centred on no difference


def test_shared_range_limits_the_dynamic_range():
    low, high = shared_log_range(np.array([1e-12, 0.0, 5.0]), np.array([50.0]), dynamic_range=1e4)
    assert high == 50.0 and low == pytest.approx(50.0 / 1e4)


def test_ratio_band_matches_the_spread_of_poisson_ratios():
    """Per-bin Poisson errors, both samples propagated (no bin holds more than a few percent
    of the entries, so the normalisation's correlation between bins is negligible)."""
    rng = np.random.default_rng(0)
    expected = np.geomspace(30.0, 600.0, 40)
    ratios, errors = [], []
    for _ in range(3000):
        ratio, error = histograms.ratio_with_errors(rng.poisson(expected), rng.poisson(expected))
        ratios.append(ratio)
        errors.append(error)
    spread = np.std(ratios, axis=0)
    predicted = np.median(errors, axis=0)
    assert np.allclose(predicted, spread, rtol=0.12)
    value, error = histograms.normalised_with_errors(np.array([0, 4, 16]))
    assert value.sum() == pytest.approx(1) and error[1] / value[1] == pytest.approx(1 / 2)


def test_incident_energy_bins_and_shower_depth():
    geometry = get_geometry("ds1-photons")
    energies = np.exp(np.random.default_rng(1).uniform(np.log(1e3), np.log(1e6), 500))
    edges = energy.incident_energy_edges(energies, 5)
    assert len(edges) == 6 and edges[0] < energies.min() and edges[-1] > energies.max()
    assert np.allclose(np.diff(np.log(edges[1:-1])), np.diff(np.log(edges[1:-1]))[0])
    discrete = energy.incident_energy_edges(np.repeat([256.0, 1024.0, 4096.0], 10), 5)
    assert len(discrete) == 4 and np.histogram([256, 1024, 4096], discrete)[0].tolist() == [1, 1, 1]
    # a shower with all its energy in one layer lies at that layer's depth
    _, showers = _showers(geometry.n_layers, 2)
    for index, layer_slice in enumerate(geometry.layer_slices):
        keep = np.zeros(geometry.n_voxels, dtype=bool)
        keep[layer_slice] = True
        showers[index, ~keep] = 0
    from physgen.calo.features import compute_features

    features = compute_features(geometry, np.full(len(showers), 1e4), showers)
    depth = energy.shower_depth(features, geometry)
    assert np.allclose(depth, [layer.layer_id for layer in geometry.active_layers])

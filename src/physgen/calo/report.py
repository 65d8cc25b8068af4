"""Self-contained HTML report of a calorimeter evaluation, written beside metrics.json.

Order: the summary (metrics with errors, the Geant4 floor and the excess over it where the
evaluation measured one, warnings), the ten histograms with the largest separation power
at full size, the key observables in bins of incident energy, the average showers (one
shared colour scale and a difference map), then every official histogram by group and the
physgen extra histograms. Each figure is also written to ``figures/`` as PNG and PDF; the
page embeds the PNGs (base64) and links the PDFs, and every thumbnail opens large on click.
"""

from __future__ import annotations

import html
import math
from base64 import b64encode
from pathlib import Path

from physgen.calo import report_energy as energy
from physgen.calo import report_histograms as histograms
from physgen.calo import report_showers as showers
from physgen.core.html_report import (
    LIGHTBOX_HTML,
    LIGHTBOX_SCRIPT,
    LIGHTBOX_STYLE,
    FigureStore,
    SavedFigure,
    gallery_html,
    html_table,
    thumbnail_html,
    write_page,
)

__all__ = ["write_report", "worst_histograms", "HISTOGRAM_GROUPS"]

N_WORST = 10
GRID_DPI = 140
FULL_DPI = 100

# (key, title, name prefixes, official): the order of the histogram sections
HISTOGRAM_GROUPS = (
    ("global", "E_tot/E_inc and the voxel-energy spectrum", ("etot_over_einc", "voxel_energy")),
    ("e_layer", "energy per layer", ("e_layer",)),
    ("ec_eta", "centre of energy in eta per layer", ("ec_eta",)),
    ("ec_phi", "centre of energy in phi per layer", ("ec_phi",)),
    ("width_eta", "shower width in eta per layer", ("width_eta",)),
    ("width_phi", "shower width in phi per layer", ("width_phi",)),
    ("ec_r", "centre of energy in r per layer", ("ec_r",)),
    ("width_r", "shower width in r per layer", ("width_r",)),
    ("sparsity", "sparsity (fraction of empty voxels) per layer", ("sparsity",)),
)

_STYLE = """
body{max-width:1500px;color:#222;line-height:1.35}
h2{border-bottom:2px solid #d62728;padding-bottom:3px;margin-top:1.8em}
h3{margin-bottom:.3em}
table{margin:.5em 0 1em}th{background:#f2f2f2;border:1px solid #ccc;padding:4px 10px;
 text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
.meta{color:#555;font-size:.9em}.meta code{font-size:.95em}
.headline{font-size:1.35em;margin:.4em 0 .6em}.headline b{color:#b00}
.warnings{background:#fff4e5;border-left:5px solid #f0a030;padding:.5em 1em;margin:1em 0}
.bad{color:#b00;font-weight:bold}.ok{color:#270}
nav a{margin-right:1.1em}td{white-space:nowrap}td:last-child{white-space:normal}
ul.files{columns:3;font-size:.9em}.legend{font-size:.9em;color:#444}
.ref{color:#555;font-weight:bold}.gen{color:#d62728;font-weight:bold}
"""

_LEGEND = (
    "<p class='legend'><span class='ref'>grey: reference</span>, "
    "<span class='gen'>red: generated</span>; bands: Poisson error per bin (ratio panel: "
    "both propagated); S: separation power. Click a panel to open it large "
    "(arrow keys: next / previous, Esc: close).</p>"
)


def worst_histograms(specs, n: int = N_WORST) -> list:
    """The ``n`` official histograms with the largest separation power, largest first
    (ties keep the official order)."""
    official = [spec for spec in specs if getattr(spec, "official", True)]
    return sorted(official, key=lambda spec: -spec.result.separation_power)[:n]


# --- formatting ------------------------------------------------------------------------------
def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def format_value(value, error=None, decimals: int | None = None, signed: bool = False) -> str:
    """``value ± error`` rounded to two significant digits of the error; without an error,
    ``decimals`` places or else 4 significant digits. HTML (an en dash when missing)."""
    if not _number(value):
        return "&ndash;"
    sign = "+" if signed else ""
    if _number(error) and error > 0:
        places = max(0, 1 - math.floor(math.log10(error)))
        return f"{value:{sign}.{places}f} &plusmn; {error:.{places}f}"
    if decimals is not None:
        return f"{value:{sign}.{decimals}f}"
    return f"{value:{sign}.4g}"


def _metric_rows(metrics: dict) -> list[tuple[str, str, str | None]]:
    """(key, label, error key) of the metrics the summary lists, where present."""
    n_official = metrics.get("separation_histograms_official", "official")
    rows = [
        ("separation_mean_official", f"mean separation power ({n_official} histograms)", None),
        ("separation_etot_over_einc", "separation power of E_tot/E_inc", None),
        ("separation_mean_extra", "mean separation power (physgen extra histograms)", None),
    ]
    for suffix, label in (
        ("low", "low-level"),
        ("low_normed", "low-level normed"),
        ("high", "high-level"),
    ):
        rows.append((f"auc_{suffix}", f"classifier AUC, {label}", f"auc_{suffix}_err"))
        rows.append((f"jsd_{suffix}", f"classifier JSD, {label}", None))
    rows.append(("fpd", "FPD (&times;10<sup>3</sup>)", "fpd_err"))
    rows.append(("kpd", "KPD (&times;10<sup>3</sup>)", "kpd_err"))
    return [row for row in rows if _number(metrics.get(row[0]))]


def _excess(metrics: dict, key: str, error_key: str | None):
    """The excess over the floor and its error, as evaluate stored them."""
    stored = metrics.get("excess_over_floor") or {}
    return stored.get(key), stored.get(f"{key}_err")


def _repeats_note(metrics: dict, key: str) -> str:
    """Mean and spread of the AUC over repeated classifier trainings, where there were."""
    if not key.startswith("auc_"):
        return ""
    classifier = (metrics.get("classifiers") or {}).get(key[len("auc_") :]) or {}
    repeats = classifier.get("repeats") or []
    if len(repeats) < 2:
        return ""
    mean, spread = classifier["auc_mean"], classifier["auc_spread"]
    return f"{len(repeats)} trainings: mean {mean:.4f}, spread {spread:.4f}"


def _summary_table(metrics: dict, specs) -> str:
    floor = metrics.get("floor") or {}
    has_floor = bool(floor)
    header = ["metric", "value"] + (["Geant4 floor", "excess over floor"] if has_floor else [])
    header.append("notes")
    rows = []
    for key, label, error_key in _metric_rows(metrics):
        # separation powers and JSDs (no error given) to 4 decimals, as the official tables
        decimals = 4 if key.startswith(("separation", "jsd")) else None
        value = format_value(metrics[key], metrics.get(error_key) if error_key else None, decimals)
        if key == "separation_mean_official":
            value = f"<b>{value}</b>"
        row = [label, value]
        notes = [_repeats_note(metrics, key)]
        if has_floor:
            floor_error = floor.get(error_key) if error_key else None
            row.append(format_value(floor.get(key), floor_error, decimals))
            excess, excess_error = _excess(metrics, key, error_key)
            row.append(format_value(excess, excess_error, decimals, signed=True))
            if _number(excess) and _number(excess_error) and excess_error > 0:
                sigma = excess / excess_error
                notes.append(
                    f"<span class='{'bad' if sigma > 3 else 'ok'}'>{sigma:+.1f} &sigma;</span>"
                )
        row.append("; ".join(note for note in notes if note))
        rows.append(row)
    counts = [
        ["showers compared", str(metrics.get("n_reference", "&ndash;"))]
        + [""] * (2 if has_floor else 0)
        + [f"{metrics.get('n_generated_invalid', 0)} invalid generated showers excluded"],
    ]
    shifted = sorted(
        (s for s in specs if histograms.out_of_range_note(s.result)),
        key=lambda s: -abs(s.result.generated_out_of_range - s.result.reference_out_of_range),
    )
    if shifted:
        text = ", ".join(
            f"{html.escape(s.name)} (ref {100 * s.result.reference_out_of_range:.1f}%, gen "
            f"{100 * s.result.generated_out_of_range:.1f}%)"
            for s in shifted[:3]
        )
        counts.append(
            ["histograms whose out-of-range fraction differs by > 0.1%", str(len(shifted))]
            + [""] * (2 if has_floor else 0)
            + [f"largest: {text}"]
        )
    return html_table(header, rows + counts, css_class="summary")


def _headline(metrics: dict) -> str:
    if not _number(metrics.get("separation_mean_official")):
        return ""
    text = (
        "mean separation power of the official histograms: "
        f"<b>{metrics['separation_mean_official']:.4f}</b>"
    )
    floor = metrics.get("floor") or {}
    if _number(floor.get("separation_mean_official")):
        excess, _ = _excess(metrics, "separation_mean_official", None)
        text += f" (Geant4 floor {floor['separation_mean_official']:.4f}, excess {excess:+.4f})"
    return f"<p class='headline'>{text}</p>"


def _header(metrics: dict) -> str:
    def item(label, key):
        value = metrics.get(key)
        return f"{label}: <code>{html.escape(str(value))}</code>" if value is not None else ""

    floor_file = metrics.get("floor_file") if metrics.get("floor") else None
    lines = [
        item("generated", "generated"),
        item("reference", "reference"),
        f"Geant4 floor: the reference against <code>{html.escape(floor_file)}</code>"
        if floor_file
        else "",
        f"{item('geometry', 'geometry')}, {metrics.get('n_reference', '?')} showers each, "
        f"physgen {html.escape(str(metrics.get('physgen_version', '?')))}",
    ]
    nav = "".join(
        f"<a href='#{anchor}'>{title}</a>"
        for anchor, title in (
            ("summary", "summary"),
            ("worst", "ten worst histograms"),
            ("energy", "energy bins"),
            ("average", "average showers"),
            ("official", "official histograms"),
            ("extra", "extra histograms"),
            ("files", "figure files"),
        )
    )
    return f"<p class='meta'>{'<br>'.join(line for line in lines if line)}</p><nav>{nav}</nav>"


def _warnings(metrics: dict) -> str:
    warnings = [w for w in metrics.get("warnings", []) if w]
    if metrics.get("error"):
        warnings.insert(0, metrics["error"])
    if not warnings:
        return ""
    items = "".join(f"<li>{html.escape(str(w))}</li>" for w in warnings)
    return f"<div class='warnings'><b>warnings</b><ul>{items}</ul></div>"


# --- figure sections --------------------------------------------------------------------------
def _links(saved: SavedFigure) -> dict[str, str]:
    return {"PDF": f"figures/{saved.pdf.name}", "PNG": f"figures/{saved.png.name}"}


def _figure_thumb(saved: SavedFigure, caption: str, gallery: str) -> str:
    return thumbnail_html(
        saved.png_base64,
        caption,
        gallery,
        href=f"figures/{saved.png.name}",
        links=_links(saved),
        element_id=f"fig-{saved.name}",
    )


def _file_links(saved: SavedFigure) -> str:
    return (
        f"<a href='figures/{html.escape(saved.pdf.name)}'>PDF</a> "
        f"<a href='figures/{html.escape(saved.png.name)}'>PNG</a>"
    )


def _worst_section(store: FigureStore, specs, floor_powers: dict) -> str:
    worst = worst_histograms(specs)
    rows, thumbs = [], []
    for rank, spec in enumerate(worst, start=1):
        power = spec.result.separation_power
        floor_power = floor_powers.get(spec.name)
        fig = histograms.histogram_figure(
            spec, floor_power, heading=f"rank {rank} by separation power"
        )
        saved = store.save(fig, f"worst_{rank:02d}_{spec.name}", dpi=FULL_DPI)
        label = histograms.plain_label(spec.label)
        row = [
            str(rank),
            f"<code>{html.escape(spec.name)}</code>",
            html.escape(label),
            f"{power:.4f}",
        ]
        if floor_powers:
            excess = power - floor_power if _number(floor_power) else None
            row += [format_value(floor_power, decimals=4), format_value(excess, None, 4, True)]
        row.append(_file_links(saved))
        rows.append(row)
        caption = f"#{rank}: {spec.name} ({label}), S = {power:.4f}"
        thumbs.append((_figure_thumb(saved, caption, "worst"), html.escape(caption)))
    header = ["rank", "histogram", "observable", "separation power"]
    header += ["Geant4 floor", "excess"] if floor_powers else []
    header.append("files")
    return (
        "<h2 id='worst'>The ten histograms with the largest separation power</h2>"
        + html_table(header, rows)
        + _LEGEND
        + gallery_html(thumbs, "gallery wide")
    )


def _tiled_gallery(store, tiled, name, captions, ids, gallery) -> str:
    saved = store.save(tiled.fig, name, dpi=GRID_DPI)
    tiles = saved.tiles(tiled.header_px(GRID_DPI), tiled.n_rows, tiled.n_cols, tiled.count)
    thumbs = []
    for tile, caption, element_id in zip(tiles, captions, ids, strict=True):
        thumbs.append(
            thumbnail_html(
                b64encode(tile).decode(),
                caption,
                gallery,
                href=f"figures/{saved.png.name}",
                links=_links(saved),
                element_id=element_id,
            )
        )
    return gallery_html(thumbs) + f"<p class='legend'>whole figure: {_file_links(saved)}</p>"


def _group_members(specs) -> list[tuple[str, str, list]]:
    groups, taken = [], set()
    for key, title, prefixes in HISTOGRAM_GROUPS:
        members = [
            s for s in specs if any(s.name == p or s.name.startswith(p + "_") for p in prefixes)
        ]
        taken.update(id(s) for s in members)
        for official in (True, False):
            chosen = [s for s in members if getattr(s, "official", True) == official]
            if chosen:
                groups.append((key, title, chosen))
    rest = [s for s in specs if id(s) not in taken]
    for official in (True, False):
        chosen = [s for s in rest if getattr(s, "official", True) == official]
        if chosen:
            groups.append(("other", "other histograms", chosen))
    return groups


def _histogram_sections(store: FigureStore, specs, floor_powers: dict) -> str:
    parts = {True: [], False: []}
    grids = histograms.HistogramGrids()
    for key, title, members in _group_members(specs):
        official = getattr(members[0], "official", True)
        prefix = "hist" if official else "extra"
        name = f"{prefix}_{key}"
        mean_power = sum(s.result.separation_power for s in members) / len(members)
        heading = f"{title} ({len(members)} histograms, mean S = {mean_power:.4f})"
        tiled = grids.draw(members, heading, floor_powers)
        captions = [
            f"{s.name}: {histograms.plain_label(s.label)}, S = {s.result.separation_power:.4f}"
            for s in members
        ]
        ids = [f"hist-{s.name}" for s in members]
        parts[official].append(
            f"<h3 id='{name}'>{html.escape(heading)}</h3>"
            + _tiled_gallery(store, tiled, name, captions, ids, name)
        )
    grids.close()
    official = "".join(parts[True])
    extra = "".join(parts[False])
    text = "<h2 id='official'>Official histograms</h2>" + _LEGEND + official
    if extra:
        text += (
            "<h2 id='extra'>physgen extra histograms</h2><p class='legend'>Not in the official "
            "evaluation: EC r, width r and sparsity per layer.</p>" + extra
        )
    return text


def _energy_section(store: FigureStore, geometry, ref_features, gen_features) -> str:
    bins, labels = energy.energy_bins(geometry, ref_features, gen_features)
    if not bins:
        return (
            "<h2 id='energy'>Key observables in bins of incident energy</h2><p>too few showers</p>"
        )
    dependence = store.save(
        energy.energy_dependence_figure(bins, labels), "energy_dependence", FULL_DPI
    )
    tiled = energy.energy_bins_figure(bins, labels)
    captions, ids = [], []
    for name in labels:
        for index, energy_bin in enumerate(bins):
            power = energy_bin.comparisons[name].separation_power
            captions.append(
                f"{histograms.plain_label(labels[name])}, E_inc {energy_bin.label}: S = {power:.4f}"
            )
            ids.append(f"energy-{name}-{index}")
    rows = []
    for energy_bin in bins:
        row = [
            html.escape(energy_bin.label),
            f"{energy_bin.n_reference} / {energy_bin.n_generated}",
        ]
        for name in labels:
            ref_stats = energy_bin.statistics[name]["reference"]
            gen_stats = energy_bin.statistics[name]["generated"]
            row.append(
                f"{format_value(ref_stats[0], ref_stats[1])}<br><span class='gen'>"
                f"{format_value(gen_stats[0], gen_stats[1])}</span>"
            )
        response_ref = energy_bin.statistics["response"]["reference"]
        response_gen = energy_bin.statistics["response"]["generated"]
        row.append(
            f"{format_value(response_ref[2] / response_ref[0])}<br><span class='gen'>"
            f"{format_value(response_gen[2] / response_gen[0])}</span>"
        )
        row.append(
            " / ".join(f"{energy_bin.comparisons[name].separation_power:.4f}" for name in labels)
        )
        rows.append(row)
    header = ["E_inc bin", "showers ref / gen"]
    header += [f"mean {html.escape(histograms.plain_label(labels[name]))}" for name in labels]
    header += ["resolution &sigma;/&mu; of E_tot/E_inc", "S (response / depth / width)"]
    return (
        "<h2 id='energy'>Key observables in bins of incident energy</h2>"
        "<p class='legend'>Response E_tot/E_inc, shower depth (energy-weighted mean layer) and "
        "a radial width per bin of incident energy; table: reference (black) over "
        "<span class='gen'>generated</span>, mean &plusmn; standard error.</p>"
        + html_table(header, rows)
        + gallery_html(
            [
                (
                    _figure_thumb(dependence, "energy dependence", "energy-summary"),
                    f"energy dependence: {_file_links(dependence)}",
                )
            ],
            "gallery one",
        )
        + _tiled_gallery(store, tiled, "energy_bins", captions, ids, "energy_bins")
    )


def _average_section(store: FigureStore, geometry, ref_summary, gen_summary) -> str:
    figures = showers.average_shower_figures(
        geometry, ref_summary.mean_shower, gen_summary.mean_shower
    )
    thumbs = []
    for key, caption in (
        ("reference", "average reference shower"),
        ("generated", "average generated shower (the reference's colour scale)"),
        ("difference", "(generated - reference) / reference per voxel"),
    ):
        saved = store.save(figures[key].fig, f"average_shower_{key}", dpi=FULL_DPI)
        thumbs.append(
            (_figure_thumb(saved, caption, "average"), f"{caption}: {_file_links(saved)}")
        )
    layer_radius = store.save(
        showers.layer_radius_figure(geometry, ref_summary.mean_shower, gen_summary.mean_shower),
        "average_shower_layer_r",
        FULL_DPI,
    )
    profile = store.save(
        showers.longitudinal_profile_figure(geometry, ref_summary.features, gen_summary.features),
        "average_profiles",
        FULL_DPI,
    )
    wide = []
    for saved, caption in (
        (layer_radius, "average showers summed over alpha, per layer and radius"),
        (profile, "mean energy, EC r and width r per layer"),
    ):
        wide.append((_figure_thumb(saved, caption, "average"), f"{caption}: {_file_links(saved)}"))
    return (
        "<h2 id='average'>Average showers</h2><p class='legend'>Reference and generated share "
        "one logarithmic colour scale; the difference map is relative to the reference, per "
        "voxel, on a diverging scale (blue: generated below the reference, red: above). Per "
        "voxel the mean of a few thousand showers is noisy; summed over alpha (below) much "
        "less so.</p>" + gallery_html(thumbs, "gallery third") + gallery_html(wide, "gallery one")
    )


def _files_section(store: FigureStore) -> str:
    items = "".join(
        f"<li>{html.escape(name)}: {_file_links(saved)}</li>" for name, saved in store.saved.items()
    )
    return (
        "<h2 id='files'>Figure files</h2><p class='legend'>Every figure of this page, as PNG "
        f"and PDF in <code>figures/</code> beside it.</p><ul class='files'>{items}</ul>"
    )


def write_report(path, metrics: dict, specs, geometry, ref_summary, gen_summary) -> Path:
    """Write the report page at ``path`` and its figures into ``figures/`` beside it."""
    path = Path(path)
    store = FigureStore(path.parent / "figures")
    floor_powers = (metrics.get("floor") or {}).get("separation_power") or {}
    body = "".join(
        [
            _header(metrics),
            "<h2 id='summary'>Summary</h2>",
            _warnings(metrics),
            _headline(metrics),
            _summary_table(metrics, specs),
            _worst_section(store, specs, floor_powers),
            _energy_section(store, geometry, ref_summary.features, gen_summary.features),
            _average_section(store, geometry, ref_summary, gen_summary),
            _histogram_sections(store, specs, floor_powers),
            _files_section(store),
            LIGHTBOX_HTML,
        ]
    )
    page = write_page(
        path,
        "physgen calorimeter evaluation",
        body,
        style=_STYLE + LIGHTBOX_STYLE,
        script=LIGHTBOX_SCRIPT,
    )
    store.remove_stale()
    return page

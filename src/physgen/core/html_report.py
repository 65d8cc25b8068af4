"""Self-contained HTML pages: matplotlib figures embedded as base64 PNG, tables, and figure
galleries whose thumbnails open large in a small built-in lightbox (no external assets).

Figures of a report can also be kept as files: :class:`FigureStore` writes each one as PNG and
PDF (atomically, under its final name only once complete) and hands back the PNG bytes that
the page embeds, so the page and the files show the same pixels."""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402

from physgen.core.atomic import atomic_path, write_text_atomic  # noqa: E402

__all__ = [
    "FigureStore",
    "SavedFigure",
    "encode_png",
    "figure_base64",
    "gallery_html",
    "html_table",
    "image_tag",
    "table_html",
    "thumbnail_html",
    "write_page",
    "LIGHTBOX_HTML",
    "LIGHTBOX_STYLE",
    "LIGHTBOX_SCRIPT",
]

_STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
    "td{border:1px solid #ccc;padding:4px 10px}img{max-width:100%}"
)


def figure_base64(fig, dpi: int = 72) -> str:
    """PNG of ``fig`` as base64 text; the figure is closed."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def image_tag(png_base64: str) -> str:
    return f"<img src='data:image/png;base64,{png_base64}'>"


def table_html(rows: list[tuple[str, str]]) -> str:
    """Rows of (label, value); values may hold HTML entities, labels are escaped."""
    return html_table(None, [[html.escape(k), v] for k, v in rows])


def html_table(header: list[str] | None, rows: list[list[str]], css_class: str = "") -> str:
    """A table, with a header row unless ``header`` is None; header and cells are HTML (the
    caller escapes text)."""
    head = "".join(f"<th>{cell}</th>" for cell in header or [])
    thead = f"<thead><tr>{head}</tr></thead>" if header is not None else ""
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    attribute = f" class='{css_class}'" if css_class else ""
    return f"<table{attribute}>{thead}<tbody>{body}</tbody></table>"


def write_page(path, title: str, body: str, style: str = "", script: str = "") -> Path:
    """One self-contained page; ``style`` (CSS) and ``script`` (JavaScript) are added inline."""
    tail = f"<script>{script}</script>" if script else ""
    page = (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}{style}</style></head><body>\n<h1>{html.escape(title)}</h1>\n{body}"
        f"{tail}</body></html>"
    )
    write_text_atomic(path, page)
    return Path(path)


# --- figures as files -----------------------------------------------------------------------
def encode_png(pixels: np.ndarray) -> bytes:
    """PNG bytes of an (H, W, 3) uint8 image, reduced to a 256-colour palette: plots hold few
    colours, and the palette makes the embedded page several times smaller."""
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(pixels[..., :3]))
    image = image.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    # the octree averages each colour cell: give back pure white to the near-white entry
    # (the page background) so figures do not sit on a grey card
    palette = np.array(image.getpalette()[: 3 * 256], dtype=np.int16).reshape(-1, 3)
    palette[(palette >= 246).all(axis=1)] = 255
    image.putpalette(palette.astype(np.uint8).ravel().tolist())
    buffer = io.BytesIO()
    image.save(buffer, format="png")
    return buffer.getvalue()


@dataclass(frozen=True)
class SavedFigure:
    name: str
    png: Path
    pdf: Path
    png_bytes: bytes
    pixels: np.ndarray = field(repr=False)  # (H, W, 3) uint8: what the PNG holds

    @property
    def png_base64(self) -> str:
        return base64.b64encode(self.png_bytes).decode()

    def tiles(self, top_px: int, n_rows: int, n_cols: int, count: int) -> list[bytes]:
        """PNG bytes of the first ``count`` cells of a regular grid that starts ``top_px``
        below the top edge, row by row (the panels of a tiled figure)."""
        height, width = self.pixels.shape[:2]
        row_edges = np.linspace(top_px, height, n_rows + 1).round().astype(int)
        col_edges = np.linspace(0, width, n_cols + 1).round().astype(int)
        tiles = []
        for index in range(count):
            row, col = divmod(index, n_cols)
            cell = self.pixels[
                row_edges[row] : row_edges[row + 1], col_edges[col] : col_edges[col + 1]
            ]
            tiles.append(encode_png(cell))
        return tiles


class FigureStore:
    """Writes figures as ``<name>.png`` and ``<name>.pdf`` into one directory (each file
    atomically) and remembers them, so that files of an earlier report that this one did not
    write can be removed (:meth:`remove_stale`)."""

    def __init__(self, directory, dpi: int = 100):
        self.directory = Path(directory)
        self.dpi = dpi
        self.saved: dict[str, SavedFigure] = {}

    def save(self, fig, name: str, dpi: int | None = None) -> SavedFigure:
        """Render ``fig`` (Agg) to PNG and PDF under ``name``; a pyplot figure is closed."""
        if name in self.saved:
            raise ValueError(f"figure name {name!r} used twice in one report")
        try:
            if not isinstance(fig.canvas, FigureCanvasAgg):  # e.g. a closed pyplot figure
                FigureCanvasAgg(fig)
            fig.set_dpi(dpi or self.dpi)
            fig.canvas.draw()
            pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
            png_bytes = encode_png(pixels)
            png, pdf = self.directory / f"{name}.png", self.directory / f"{name}.pdf"
            with atomic_path(png) as tmp:
                tmp.write_bytes(png_bytes)
            with atomic_path(pdf) as tmp:
                # no creation date: the same figure gives the same file
                fig.savefig(tmp, format="pdf", metadata={"CreationDate": None})
        finally:
            plt.close(fig)
        saved = SavedFigure(name, png, pdf, png_bytes, pixels)
        self.saved[name] = saved
        return saved

    def remove_stale(self) -> list[Path]:
        """Remove the PNG and PDF files of the directory that this store did not write."""
        keep = {path for saved in self.saved.values() for path in (saved.png, saved.pdf)}
        removed = []
        for path in sorted(self.directory.glob("*")):
            if path.suffix in (".png", ".pdf") and path not in keep:
                path.unlink(missing_ok=True)
                removed.append(path)
        return removed


# --- galleries and the lightbox ---------------------------------------------------------------
def thumbnail_html(
    png_base64: str,
    caption: str,
    gallery: str,
    href: str = "",
    links: dict[str, str] | None = None,
    element_id: str = "",
) -> str:
    """A clickable image: it opens large in the page's lightbox (arrow keys step through its
    ``gallery``); without JavaScript the link ``href`` opens. ``caption`` is plain text;
    ``links`` (label -> relative address) are shown under the large image."""
    link_text = "|".join(f"{label}={address}" for label, address in (links or {}).items())
    identifier = f" id='{html.escape(element_id)}'" if element_id else ""
    return (
        f"<a href='{html.escape(href or '#')}' class='thumb'><img{identifier} class='zoom' "
        f"loading='lazy' src='data:image/png;base64,{png_base64}' alt='{html.escape(caption)}' "
        f"data-caption='{html.escape(caption)}' data-gallery='{html.escape(gallery)}' "
        f"data-links='{html.escape(link_text)}'></a>"
    )


def gallery_html(items: list[str], css_class: str = "gallery") -> str:
    """Thumbnails (see :func:`thumbnail_html`), each with an optional label below it: items
    are HTML strings, or (thumbnail, label HTML) pairs."""
    cells = []
    for item in items:
        thumb, label = item if isinstance(item, tuple) else (item, "")
        label_html = f"<figcaption>{label}</figcaption>" if label else ""
        cells.append(f"<figure>{thumb}{label_html}</figure>")
    return f"<div class='{css_class}'>{''.join(cells)}</div>"


LIGHTBOX_STYLE = """
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:10px}
.gallery.wide{grid-template-columns:repeat(auto-fill,minmax(560px,1fr))}
.gallery.third{grid-template-columns:repeat(auto-fill,minmax(400px,1fr))}
.gallery.one{grid-template-columns:1fr;margin-top:10px}
.gallery figure{margin:0}
.gallery img{width:100%;display:block;border:1px solid #ddd;cursor:zoom-in;background:#fff}
.gallery img:hover{border-color:#888}
.gallery figcaption{font-size:.85em;color:#444;margin-top:2px}
#lightbox{position:fixed;inset:0;background:rgba(20,20,20,.88);display:flex;z-index:10;
 flex-direction:column;align-items:center;justify-content:center;cursor:zoom-out}
#lightbox[hidden]{display:none}
#lightbox img{background:#fff;box-shadow:0 0 24px #000;max-width:none;cursor:default}
#lightbox .caption{color:#eee;margin-top:.6em;font-size:1em;text-align:center;max-width:90vw}
#lightbox .caption a{color:#9cf;margin-left:.8em}
#lightbox .nav{position:fixed;top:50%;font-size:3em;color:#ccc;cursor:pointer;
 user-select:none;padding:0 .3em;transform:translateY(-50%)}
#lightbox .nav:hover{color:#fff}
#lightbox .prev{left:0}#lightbox .next{right:0}
"""

LIGHTBOX_HTML = (
    "<div id='lightbox' hidden><span class='nav prev' title='previous (left arrow)'>&#8249;"
    "</span><img alt=''><div class='caption'></div><span class='nav next' "
    "title='next (right arrow)'>&#8250;</span></div>"
)

LIGHTBOX_SCRIPT = """
(function(){
var box=document.getElementById('lightbox');if(!box)return;
var big=box.querySelector('img'),caption=box.querySelector('.caption'),group=[],at=0;
function fit(){if(!big.naturalWidth)return;
 var s=Math.min(.94*innerWidth/big.naturalWidth,.84*innerHeight/big.naturalHeight,2.6);
 big.style.width=Math.round(big.naturalWidth*s)+'px';}
function show(i){at=(i+group.length)%group.length;var t=group[at];big.src=t.src;
 caption.textContent=t.dataset.caption+'  ('+(at+1)+' of '+group.length+')';
 (t.dataset.links||'').split('|').forEach(function(pair){if(!pair)return;
  var k=pair.indexOf('='),a=document.createElement('a');a.textContent=pair.slice(0,k);
  a.href=pair.slice(k+1);a.target='_blank';caption.appendChild(a);});
 box.hidden=false;fit();}
function open(t){group=Array.prototype.slice.call(document.querySelectorAll(
 'img.zoom[data-gallery="'+t.dataset.gallery+'"]'));show(group.indexOf(t));}
big.onload=fit;window.addEventListener('resize',fit);
document.addEventListener('click',function(e){var t=e.target.closest('img.zoom');
 if(t){e.preventDefault();open(t);return;}
 if(box.hidden||e.target.closest('.caption a'))return;
 if(e.target.closest('.prev')){show(at-1);return;}
 if(e.target.closest('.next')){show(at+1);return;}
 if(e.target!==big)box.hidden=true;});
document.addEventListener('keydown',function(e){if(box.hidden)return;
 if(e.key==='Escape')box.hidden=true;else if(e.key==='ArrowRight')show(at+1);
 else if(e.key==='ArrowLeft')show(at-1);});
var m=location.hash.match(/^#zoom=(.+)$/);
if(m){var t=document.getElementById(decodeURIComponent(m[1]));if(t)open(t);}
})();
"""

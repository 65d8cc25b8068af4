"""Self-contained HTML pages: matplotlib figures embedded as base64 PNG, key-value tables."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from physgen.core.atomic import write_text_atomic  # noqa: E402

__all__ = ["figure_base64", "image_tag", "table_html", "write_page"]

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
    body = "".join(f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def write_page(path, title: str, body: str) -> Path:
    page = (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body>\n<h1>{html.escape(title)}</h1>\n{body}</body></html>"
    )
    write_text_atomic(path, page)
    return Path(path)

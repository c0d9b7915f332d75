"""A small writer for a single, self-contained HTML report (no server, no external files).

Images are embedded: SVG inline (its XML prolog and DOCTYPE stripped) and PNG/JPEG/GIF as
base64 ``data:`` URIs, so the file works when opened from ``file://`` and can be mailed as is.

    rep = Report("tinygrad_lite demo")
    sec = rep.section("MLP on digits", intro="An MLP trained ...")
    sec.table(["metric", "value"], [["test accuracy", "97.8%"]])
    sec.image("out/demo/mlp_curve.png", caption="Training loss")
    rep.write("out/demo/report.html")
"""
from __future__ import annotations

import base64
import datetime as _dt
import html
import re
from pathlib import Path

__all__ = ["Report", "Section", "embed_image", "fmt_number"]

_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif"}

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;
     padding:0 1em;color:#1d1d1f;line-height:1.45}
h1{font-size:1.8em;margin-bottom:.2em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
h3{margin-bottom:.3em} .meta{color:#666;font-size:.9em}
table{border-collapse:collapse;margin:.6em 0} th,td{border:1px solid #ccc;padding:.25em .7em;text-align:left}
th{background:#f3f3f5} td.num{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f6f8fa;border:1px solid #e1e4e8;padding:.7em;overflow-x:auto;font-size:.85em;white-space:pre-wrap}
figure{margin:1em 0;overflow-x:auto} figure img,figure svg{max-width:100%;height:auto}
figcaption{color:#555;font-size:.9em;margin-top:.3em}
.note{border-left:4px solid #e0a000;background:#fff8e1;padding:.5em .8em;margin:.8em 0}
.error{border-left:4px solid #c62828;background:#fdecea;padding:.5em .8em;margin:.8em 0}
.ok{color:#2e7d32} nav a{margin-right:1em}
"""


def fmt_number(x, digits=4):
    """Format a number for a table cell: ints as is, floats with `digits` significant digits."""
    if isinstance(x, bool) or x is None:
        return str(x)
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        if x != x or x in (float("inf"), float("-inf")):
            return str(x)
        if abs(x) >= 1e9 or (x != 0 and abs(x) < 1e-3):
            return f"{x:.{digits - 1}e}"
        if abs(x) >= 10 ** digits:
            return f"{x:,.0f}"
        return f"{x:.{digits}g}" if abs(x) >= 1 else f"{x:.{digits}f}".rstrip("0").rstrip(".") or "0"
    try:  # numpy scalars
        import numpy as np
        if isinstance(x, np.integer):
            return fmt_number(int(x), digits)
        if isinstance(x, np.floating):
            return fmt_number(float(x), digits)
    except ImportError:  # pragma: no cover
        pass
    return str(x)


def _is_num(x):
    try:
        import numpy as np
        num_types = (int, float, np.integer, np.floating)
    except ImportError:  # pragma: no cover
        num_types = (int, float)
    return isinstance(x, num_types) and not isinstance(x, bool)


def embed_image(path, alt="", max_width=None):
    """HTML for the image file at `path`, embedded: inline <svg> for .svg, a base64 data URI otherwise.

    Raises FileNotFoundError if the file is missing and ValueError for an unknown extension.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image not found: {path}")
    ext = path.suffix.lower()
    style = f' style="max-width:{max_width}px"' if max_width else ""
    if ext == ".svg":
        svg = path.read_text(encoding="utf-8")
        svg = re.sub(r"<\?xml[^>]*\?>", "", svg)
        svg = re.sub(r"<!DOCTYPE[^>]*>", "", svg, flags=re.S)
        svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
        svg = _prefix_svg_ids(svg)
        return f'<div class="svg" role="img" aria-label="{html.escape(alt)}"{style}>{svg.strip()}</div>'
    if ext not in _MIME:
        raise ValueError(f"cannot embed image of type {ext!r} ({path}); use svg, png, jpg or gif")
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:{_MIME[ext]};base64,{data}" alt="{html.escape(alt)}"{style}>'


_SVG_COUNTER = [0]


def _prefix_svg_ids(svg):
    """Make the ids of an inline SVG unique in the page (several SVGs share Graphviz's ids)."""
    _SVG_COUNTER[0] += 1
    pfx = f"s{_SVG_COUNTER[0]}_"
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{pfx}{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{pfx}{m.group(1)})", svg)
    return re.sub(r'href="#([^"]+)"', lambda m: f'href="#{pfx}{m.group(1)}"', svg)


class Section:
    """One titled part of a Report; add content with the methods below (they return self)."""

    def __init__(self, title, anchor):
        self.title = title
        self.anchor = anchor
        self.parts: list[str] = []

    def text(self, s):
        """A paragraph of plain text (HTML-escaped)."""
        self.parts.append(f"<p>{html.escape(str(s))}</p>")
        return self

    def html(self, s):
        """Raw HTML (trusted, written by the caller)."""
        self.parts.append(str(s))
        return self

    def heading(self, s):
        """A sub-heading inside the section."""
        self.parts.append(f"<h3>{html.escape(str(s))}</h3>")
        return self

    def pre(self, s):
        """Preformatted text (program output, generated samples)."""
        self.parts.append(f"<pre>{html.escape(str(s))}</pre>")
        return self

    def note(self, s, kind="note"):
        """A highlighted box: kind 'note' (warning colour) or 'error' (red)."""
        self.parts.append(f'<div class="{kind}">{html.escape(str(s))}</div>')
        return self

    def table(self, headers, rows, caption=None):
        """A table; numbers are formatted with fmt_number and right-aligned."""
        out = ["<table>"]
        if caption:
            out.append(f"<caption>{html.escape(str(caption))}</caption>")
        out.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in headers) + "</tr>")
        for row in rows:
            cells = []
            for v in row:
                if _is_num(v):
                    cells.append(f'<td class="num">{html.escape(fmt_number(v))}</td>')
                else:
                    cells.append(f"<td>{html.escape(str(v))}</td>")
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</table>")
        self.parts.append("".join(out))
        return self

    def image(self, path, caption=None, max_width=None):
        """An embedded image with an optional caption (see embed_image)."""
        cap = f"<figcaption>{html.escape(str(caption))}</figcaption>" if caption else ""
        self.parts.append(f"<figure>{embed_image(path, alt=caption or Path(path).name, max_width=max_width)}"
                          f"{cap}</figure>")
        return self

    def render(self):
        """The section's HTML."""
        return f'<section id="{self.anchor}"><h2>{html.escape(self.title)}</h2>\n' + "\n".join(self.parts) + \
            "</section>"


class Report:
    """A titled HTML document made of Sections; `write(path)` produces one self-contained file."""

    def __init__(self, title, subtitle=None):
        self.title = title
        self.subtitle = subtitle
        self.sections: list[Section] = []

    def section(self, title, intro=None):
        """Append and return a new Section (with an optional introductory paragraph)."""
        anchor = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or f"s{len(self.sections)}"
        sec = Section(title, anchor)
        if intro:
            sec.text(intro)
        self.sections.append(sec)
        return sec

    def render(self):
        """The whole document as an HTML string."""
        when = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
        nav = " ".join(f'<a href="#{s.anchor}">{html.escape(s.title)}</a>' for s in self.sections)
        sub = f"<p>{html.escape(self.subtitle)}</p>" if self.subtitle else ""
        body = "\n".join(s.render() for s in self.sections)
        return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                f"<title>{html.escape(self.title)}</title><style>{_CSS}</style></head>\n<body>"
                f"<h1>{html.escape(self.title)}</h1>{sub}<p class=\"meta\">Generated {when} by tinygrad_lite.</p>"
                f"<nav>{nav}</nav>\n{body}\n</body></html>\n")

    def write(self, path):
        """Write the report to `path` (parent directories are created); returns the Path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(self.render(), encoding="utf-8")
        tmp.replace(path)
        return path

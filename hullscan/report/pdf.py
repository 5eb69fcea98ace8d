"""report.pdf: the report laid out for A4 by WeasyPrint (page numbers and a case header in the
page margins, from the report's own print CSS)."""

from __future__ import annotations

import logging
from pathlib import Path

from hullscan.errors import HullscanError

log = logging.getLogger("hullscan.report")


class ReportError(HullscanError):
    """The report could not be written."""


def write_pdf(html: str, path: Path, base_url: str | Path | None = None) -> Path:
    # WeasyPrint logs every CSS property it does not know (the screen-only parts) as a warning, and each
    # layout step at INFO (the first ones while it is imported): set before the import.
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    try:
        from weasyprint import HTML
    except OSError as err:  # the Pango libraries are missing (setup.sh installs them)
        raise ReportError(f"{path}: cannot write the PDF report: WeasyPrint needs Pango ({err}); "
                          "install libpango-1.0-0 and libpangoft2-1.0-0, or set report.pdf: false") from err
    HTML(string=html, base_url=str(base_url) if base_url else None).write_pdf(str(path))
    return path

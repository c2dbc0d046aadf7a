"""Statements as PDF, drawn by WeasyPrint from the same template the page uses."""

from __future__ import annotations

from django.template.loader import render_to_string

from payments.statements.selectors import Statement


def statement_pdf(statement: Statement) -> bytes:
    # Imported here: WeasyPrint takes most of a second to load (fonts, its own stylesheets), which
    # every process that loads the URLs (a command, a worker) would otherwise pay for nothing.
    from weasyprint import HTML

    html = render_to_string("payments/statement_pdf.html", {"s": statement})
    # No base URL: the document holds everything it shows, so nothing is ever fetched.
    return bytes(HTML(string=html).write_pdf())

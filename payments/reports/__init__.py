"""Fair-wage reports (issue 6 §1): the close's ``WageCheck`` rows as CSV, XLSX and PDF evidence.

``builder`` (parameters, checkpoint, SQL, rows, summary), ``formats`` (the three files),
``services`` (request, run, verify, purge, access), ``jobs``, ``views``, ``urls``.
"""

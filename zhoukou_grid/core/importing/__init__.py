"""Spreadsheet import and export shared by every kind of data the portal takes in.

- `reader`: bytes -> rows of cells (XLSX, XLS, CSV in UTF-8/GBK/GB18030), by content.
- `headers`: header normalisation, header-row detection, blank and total rows.
- `spec`: the column spec of a kind and the registry of kinds.
- `engine`: validate every row in plain Python, resolve codes set-based, write all or
  nothing with batched upserts, audit.
- `exporting`: streaming CSV/XLSX exports in the import columns, and XLSX templates.
- `jobs`: the ImportJob life cycle used by the web UI and the Celery task.
"""

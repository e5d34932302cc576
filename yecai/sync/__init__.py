"""Orchestration: importer (pull → records → documents), exporter (documents → postings → Kingdee),
binder and, later, reconciler. Each runs one fixed sequence and commits as it goes."""

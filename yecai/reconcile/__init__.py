"""Reconciliation: source ↔ yecai ↔ Kingdee per project × account × period.

`sides` reads the three sides (the documents as the source holds them now, the vouchers yecai
posted, the vouchers Kingdee holds — read back with ExecuteBillQuery and cross-checked against the
科目余额表), `classify` turns them into typed differences, `service` runs, stores and lists them,
and `workbook` writes them to Excel. Invoice matching (三单匹配: cost ↔ invoice ↔ payment per
supplier contract) is `matching` (pure), `matching_service` (from the store, for the caller's
projects) and `matching_workbook`. See docs/reconciliation.md.
"""

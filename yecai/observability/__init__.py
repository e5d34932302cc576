"""Observability: Prometheus metrics, structured logs with secrets redacted, readiness checks.

`metrics` holds the process instruments (imported by the Kingdee client and the sender, so it
imports nothing of the store or the jobs); `store_collector` computes the store's figures when
Prometheus scrapes; `logs` and `redaction` shape log lines; `readiness` answers /readyz.
"""

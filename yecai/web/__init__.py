"""HTTP faces of yecai (FastAPI): the JSON API (`api/`, OpenAPI), the console (`console/`), the
webhook receivers of every source connection, /metrics, /healthz and /readyz. Thin: every route
declares its access rule and calls services; it never builds queries of its own."""

"""HTTP faces of yecai (FastAPI): the webhook receiver today; the API and console later. Thin: calls services."""

"""One small package per source system; each declares streams and field mappings only."""

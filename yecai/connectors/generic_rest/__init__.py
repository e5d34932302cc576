"""A REST connector configured entirely from YAML: streams, paging, auth and field mappings.

A new PM system that exposes a JSON API is a YAML file, not code (the dlt / Singer lesson).
"""

from yecai.connectors.generic_rest.connector import GenericRestConnector, load_connector
from yecai.connectors.generic_rest.spec import ConnectorSpec

__all__ = ["ConnectorSpec", "GenericRestConnector", "load_connector"]

"""Connector for sandbox.pm, yecai's reference construction PM system (REST, bearer token)."""

from yecai.connectors.pm_sandbox.connector import PmSandboxConnector

__all__ = ["PmSandboxConnector"]

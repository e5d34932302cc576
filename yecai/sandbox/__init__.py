"""The sandboxes: faithful stand-ins for the systems yecai joins, shipped as product.

`sandbox.kingdee` emulates the K/3 Cloud WebAPI; `sandbox.pm` is a reference construction
project-management system. Users try yecai against them before touching real systems; the tests,
the demo and the benchmarks all run against them.
"""

"""One planner per business event (`yecai.mapping.rules.Event`); pure functions, hand-checked tests."""

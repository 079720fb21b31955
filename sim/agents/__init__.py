"""Agents: customers (column-wise) and managers (mesa.Agent)."""

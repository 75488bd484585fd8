"""The trade-off tool: its data and score, the run over a layers x dims grid, the result and its picture."""

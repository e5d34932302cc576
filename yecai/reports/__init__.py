"""Reports: the per-project P&L and the monthly operating analysis (月度经营分析).

Figures are read from Kingdee (what the books hold) and from the PM documents (contract value,
budgets, progress, payment requests); nothing here writes to Kingdee.
"""

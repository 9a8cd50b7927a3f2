"""The Documents tab's list, table and JSON views and the lazy models behind them."""

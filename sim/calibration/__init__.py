"""Fitting the model to the observed national and provincial series, and judging its
forecasts on years it was not fitted to (rolling-origin backtest)."""

"""Research on plans: replay sglang's run history, plan each run from the runs before it and judge
the plan by that run's real durations (benchmarks/bench_backtest.py runs it; `python -m
benchmarks.backtest --history DIR` prints the tables). Not shipped in the wheel."""

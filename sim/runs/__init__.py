"""Running the model many times: the ensemble of replications and its summary, the one
executor (this process, local processes, Dask), and the planner's verbs built on them
(sweep, compare, diagnose, plan, sensitivity, discover)."""

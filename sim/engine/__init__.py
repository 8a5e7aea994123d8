"""The simulation engine: the firms as columns, the compiled yearly passes over them,
counter-based random numbers, the title ladder and its criteria, and how rationed titles
are allotted (batches, competition, rationing)."""

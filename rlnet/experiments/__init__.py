"""Running many trainings: sweeps, grids and how their parameters are drawn."""

"""One cog per concern; each parses options, calls the engine, and renders. Nothing else."""

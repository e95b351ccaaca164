"""Games: set up, run through their lifecycle and topped up; read by the pipeline."""

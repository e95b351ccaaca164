"""Documentation generators: ``python -m frolic_report.pacing`` writes docs/pacing.md."""

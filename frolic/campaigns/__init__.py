"""Campaigns: a brand's marketing period, under which games run."""

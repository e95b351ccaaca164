"""The pacing simulator: traffic scenarios, play traces, and how a strategy's spending is judged."""

"""The play: what its row in ``play_events`` means, read the same way by every role."""

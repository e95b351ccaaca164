"""The allocator role: decide queued plays, batch by batch, game by game."""

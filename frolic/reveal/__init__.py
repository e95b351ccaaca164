"""The ws role: WebSocket reel and reveal (DESIGN.md §2 step 4)."""

"""Threads, the turn loop, and rollout persistence."""

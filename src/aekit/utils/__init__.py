"""The lowest layer: file writes, argument checks, devices and seeding, shared by every layer above."""

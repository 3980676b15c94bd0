"""A local Dotdigital emulator."""

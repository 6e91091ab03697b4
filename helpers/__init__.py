"""Shared numerics for the Scientific Spaces notebooks: one module per topic.

Import the module you need, e.g. ``from helpers import cosine``; ``helpers.notebook`` holds the
set-up that every notebook runs first (seeds, one thread, plotting style).
"""

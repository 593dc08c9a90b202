"""Readers: one per published format, each returning Hugging Face datasets built from local files.

Malformed input raises ValueError naming the file, the line and what was expected; a missing
file raises FileNotFoundError saying which file was expected where.
"""

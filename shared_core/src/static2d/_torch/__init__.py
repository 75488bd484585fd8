"""The torch engine: a sentence-transformers model cut to `layers`, its layer tap and its weight check (torch)."""

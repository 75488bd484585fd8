"""Exact tokenization, shared by every engine.

Token ids as flat arrays (`ids.Tokens`, the one type every engine uses), the probe texts and the one agreement
check that proves a faster tokenizer exact, tokie for printable-ASCII text (and the one split of texts between it
and an exact path), and sentence-transformers' ids for a transformer. Nothing here imports an engine, and torch is
never imported.
"""

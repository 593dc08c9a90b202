"""Models built from the core for text: a batch of trees with token ids, the sentence encoder, the
sequence tagger."""

"""Text tooling: vocabularies and word vectors, spaCy parsing and tokenizing, tagging schemes."""

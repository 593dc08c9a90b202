"""Trained checkpoints inside other libraries' pipelines: spaCy components (:mod:`treelstm.integrations.spacy`)."""

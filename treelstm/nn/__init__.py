"""The model core: the cells (the papers' equations), the encoder that runs them over batched trees, the
fused level loop, the chain LSTM, the CRF, character encoders and task heads."""

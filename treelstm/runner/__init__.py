"""The application: configs, the task interface and the parts tasks share, the training loop,
checkpoints, resuming, distributed training, predicting on raw text."""

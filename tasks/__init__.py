"""The benchmark tasks: thin wiring of data, model head, loss and metrics (see treelstm.runner.task.Task)."""

"""Data-parallel training under ``torchrun``: one run, each global batch split across W processes.

    torchrun --nproc_per_node 2 -m treelstm.cli train CONFIG

torchrun sets ``RANK``, ``WORLD_SIZE`` (W), ``LOCAL_RANK`` and the rendezvous address; with
``WORLD_SIZE > 1``, :func:`session` starts the default process group from them (gloo; where CUDA is
available, gloo for CPU tensors and NCCL for CUDA ones) and ends it. On GPUs each process trains on
one, ``cuda:LOCAL_RANK`` (:meth:`Ranks.device`). Without torchrun (or with one
process) nothing changes: :class:`Ranks` is ``0 of 1``, its share of a batch the whole batch with
weight 1, and its collectives do nothing.

The split. Every process draws the same seeded permutation, so all see the same global batches
``B`` of ``training.batch_size`` examples (n = |B|). Process r takes ``B[r::W]`` (n_r examples),
DistributedSampler's striding applied to each global batch: shares differ by one example at most.

The gradient. A task's loss is a mean over the examples of the batch it is given (see
:meth:`treelstm.runner.task.Task.loss`): ``L_r = (1/n_r) sum_{i in B[r::W]} l_i``. Process r backpropagates
``w_r L_r`` with ``w_r = n_r W / n``, and DDP *averages* the gradients over the W processes::

    (1/W) sum_r w_r grad L_r = (1/n) sum_r sum_{i in B[r::W]} grad l_i = (1/n) sum_{i in B} grad l_i

the single-process gradient of B, also for a short last batch. A process with an empty share (a last
batch shorter than W) runs the batch's first example with ``w_r = 0``, so that it still joins the
all-reduce. Clipping then sees the same averaged gradients everywhere, and the optimizers take the
same step on every process. The logged loss is ``(1/W) sum_r w_r L_r = (1/n) sum_i l_i``.
"""

from __future__ import annotations

import inspect
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from treelstm.errors import UserError
from treelstm.runner.config import ConfigError

__all__ = ["Ranks", "Objective", "session"]

# The models' buffers are constants (CRF transition masks, the similarity head's 1..5): never
# synced before a forward. torch >= 2.13 renamed broadcast_buffers (now deprecated) to forward_sync_buffers.
_NO_BUFFER_SYNC = ({"forward_sync_buffers": False}
                   if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
                   else {"broadcast_buffers": False})


class Objective(nn.Module):
    """``task.loss(model, batch) * weight`` as a module's forward, for DDP to wrap: DDP's gradient
    hooks only run for a forward called through it, whatever the task's loss calls (``model(batch)``,
    ``model.loss(batch)``)."""

    def __init__(self, task, model: nn.Module):
        super().__init__()
        self.task, self.model = task, model

    def forward(self, batch: Any, weight: float) -> Tensor:
        return self.task.loss(self.model, batch) * weight


@dataclass(frozen=True)
class Ranks:
    """The processes training one run: this one is ``rank`` of ``size`` (0 of 1 without torchrun)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    """This process's rank on its machine: under torchrun on GPUs, the index of its GPU."""

    @classmethod
    def from_env(cls) -> Ranks:
        """The ranks torchrun (or another launcher) set in the environment."""
        return cls(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
                   int(os.environ.get("LOCAL_RANK", 0)))

    def device(self, device: torch.device) -> torch.device:
        """The device this process trains on: one GPU per process under torchrun, ``cuda:LOCAL_RANK``
        for ``cuda``; anything else as it is. A ``cuda:N`` with several processes is a UserError (they
        would all train on one GPU, which NCCL refuses)."""
        if self.size == 1 or device.type != "cuda":
            return device
        if device.index is not None:
            raise UserError(f"--device {device}: under torchrun each process takes the GPU of its LOCAL_RANK; "
                            "give --device cuda (or auto), and choose the GPUs with CUDA_VISIBLE_DEVICES")
        return torch.device("cuda", self.local_rank)

    @property
    def main(self) -> bool:
        """Rank 0: the process that evaluates, writes the run folder and shows progress."""
        return self.rank == 0

    def check(self, batch_size: int) -> None:
        """A global batch smaller than the number of processes leaves some of them idle: refused."""
        if batch_size < self.size:
            raise ConfigError(f"training.batch_size {batch_size} is smaller than the {self.size} processes "
                              "torchrun started: give every process examples of each batch")

    def share(self, batch: Sequence[Any]) -> tuple[list[Any], float]:
        """This process's examples ``batch[rank::size]`` of a global batch and their loss weight
        ``w_r = n_r W / n`` (see the module's docstring); an empty share: the first example, weight 0."""
        mine = list(batch[self.rank :: self.size])
        return (mine, len(mine) * self.size / len(batch)) if mine else (list(batch[:1]), 0.0)

    def wrap(self, objective: Objective) -> nn.Module:
        """``objective`` in DistributedDataParallel (itself with one process).

        ``find_unused_parameters``: a share of one-word sentences never uses the cells' recurrent
        weights ``U`` (a level of leaves has no children), which DDP must then be told about. Frozen
        weights (``requires_grad=False``) are not DDP's concern; sparse gradients (an embedding
        with ``sparse=True``) are all-reduced by gloo, not by NCCL."""
        if self.size == 1:
            return objective
        device = next(objective.parameters()).device
        return DistributedDataParallel(objective, device_ids=[device.index] if device.type == "cuda" else None,
                                       find_unused_parameters=True, **_NO_BUFFER_SYNC)

    def mean(self, loss: Tensor) -> float:
        """``(1/W) sum_r loss_r`` over the processes: the global batch's loss from the weighted shares'."""
        if self.size == 1:
            return loss.item()
        total = torch.tensor([loss.item()], dtype=torch.float64)
        dist.all_reduce(total)
        return total.item() / self.size

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` (any picklable object) on every process; the others pass None and wait for it."""
        if self.size == 1:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        """Wait until every process gets here."""
        if self.size > 1:
            dist.barrier()

    def seed_dropout(self, seed: int, epoch: int) -> None:
        """Under DDP, seed torch's global RNG (dropout) from (seed, epoch, rank): each process draws its
        own masks, and a resumed run the same ones as an uninterrupted run. One process: nothing (its
        stream goes on, and is saved for resuming)."""
        if self.size > 1:
            torch.manual_seed(int(np.random.SeedSequence([seed, epoch, self.rank]).generate_state(1)[0]))


@contextmanager
def session() -> Iterator[Ranks]:
    """The ranks of this process, in a process group started from torchrun's environment when
    ``WORLD_SIZE > 1`` and ended on leaving. Nested sessions share the outer one's group: a process
    starts its group once, and several runs under one torchrun train in it (with torch 2.13, a DDP
    model built in a second group after the first was destroyed hung)."""
    ranks = Ranks.from_env()
    if ranks.size == 1 or dist.is_initialized():
        yield ranks
        return
    if torch.cuda.is_available():
        torch.cuda.set_device(ranks.local_rank)  # NCCL's collectives run on the current device
    dist.init_process_group("cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo")
    try:
        yield ranks
    finally:
        dist.destroy_process_group()

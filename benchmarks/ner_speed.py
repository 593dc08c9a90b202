"""Speed of the NER tagger (BiLSTM-CRF with a character BiLSTM) on CoNLL-2003: training and decoding.

    python benchmarks/ner_speed.py             # CoNLL-2003 from $TREELSTM_DATA (default ../shared/data)
    python benchmarks/ner_speed.py --smoke     # 64 synthetic sentences, for the tests
    python benchmarks/ner_speed.py --profile   # also: where a fused training pass spends its time (cProfile)

Contenders, in one process, on the same sentences and sizes as configs/conll2003/blstm-crf-charlstm.yaml
(50-d words, 8-d casing, character BiLSTM 25+25, word BiLSTM 100+100, CRF):

* ``fused``: the tagger with its ChainLSTMs on torch's fused kernel (the default);
* ``cells``: the same tagger with the ChainLSTM cells run level by level (``fused=False``);
* ``nn.LSTM tagger``: the same tagger written on ``torch.nn.LSTM`` the way a user would (:class:`TorchTagger`):
  ``nn.LSTM`` for the character BiLSTM (the distinct words of a batch, packed) and for the word BiLSTM
  (packed from padded batches), the same embeddings, casing, dropout, linear layer and the project's CRF;
* ``nn.LSTM``: torch.nn.LSTM over the padded word inputs of the same size, with a linear layer:
  the word-level sequence model alone, without characters or CRF, as a speed reference.

Training: forward, backward and an Adam step at batch 32; decoding: forward (Viterbi for the
tagger) without gradients at batch 256. Prints the median sentences/s over --repeat passes (after
a warm-up batch), with the ratio to ``fused`` measured in the same run; the passes go in rounds, one
of each contender per round. One thread unless --threads. :func:`compare` gives the tagger's per-round
ratio to ``nn.LSTM tagger`` (for ``tree_speed.py --compare``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence, pad_sequence

from treelstm.models.tagger import SequenceTagger, TaggedBatch, casing
from treelstm.nn.characters import NUM_CHARS, CharLSTM, char_ids
from treelstm.nn.crf import CRF
from treelstm.text.embeddings import Vocabulary


def sentences(smoke: bool) -> list[tuple[list[str], list[int]]]:
    if smoke:
        g = torch.Generator().manual_seed(0)
        words = ["Peter", "Blackburn", "EU", "rejects", "German", "call", "to", "boycott", "lamb", "."]
        out = []
        for _ in range(64):
            n = int(torch.randint(1, 30, (1,), generator=g))
            out.append(([words[int(i)] for i in torch.randint(0, 10, (n,), generator=g)],
                        torch.randint(0, 17, (n,), generator=g).tolist()))
        return out
    from treelstm.data.conll import read_conll2003

    data = read_conll2003(Path(os.environ.get("TREELSTM_DATA", "../shared/data")), "train")
    return [(tokens, [0] * len(tokens)) for tokens in data["tokens"]]


def tagger(vocab: Vocabulary, fused: bool) -> SequenceTagger:
    torch.manual_seed(0)
    return SequenceTagger(nn.Embedding(len(vocab), 50), 17, 100, chars=CharLSTM(25, 25), casing_dim=8,
                          dropout=0.5, crf=CRF(17), fused=fused)


class WordLSTM(nn.Module):
    """torch.nn.LSTM over padded inputs of the tagger's size (108 = 50 words + 8 casing + 2 x 25 characters; 83 before 2026-12-02), and tag scores."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(108, 100, bidirectional=True, batch_first=True)
        self.scores = nn.Linear(200, 17)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scores(self.lstm(x)[0])


class TorchTagger(nn.Module):
    """The tagger of :func:`tagger` on ``torch.nn.LSTM``: the same features, sizes, dropout and CRF, with
    ``nn.LSTM`` for the character BiLSTM (over the batch's distinct words, packed) and the word BiLSTM
    (over the padded sentences, packed)."""

    def __init__(self, vocab: Vocabulary):
        super().__init__()
        torch.manual_seed(0)
        self.vocab = vocab
        self.embedding, self.casing = nn.Embedding(len(vocab), 50), nn.Embedding(7, 8)
        self.chars = nn.Embedding(NUM_CHARS, 25, padding_idx=0)
        self.char_lstm = nn.LSTM(25, 25, bidirectional=True)
        self.lstm = nn.LSTM(108, 100, bidirectional=True, batch_first=True)
        self.dropout, self.scores, self.crf = nn.Dropout(0.5), nn.Linear(200, 17), CRF(17)

    def collate(self, chunk) -> dict:
        tokens = [t for sentence, _ in chunk for t in sentence]
        words, word_of_token = np.unique(np.array(tokens, dtype=object), return_inverse=True)
        ids, char_lengths = char_ids(list(words))
        lengths = torch.tensor([len(sentence) for sentence, _ in chunk])

        def padded(values):
            return pad_sequence(torch.tensor(values).split(lengths.tolist()), batch_first=True)

        return {"words": padded(self.vocab.encode(t.lower() for t in tokens)), "casing": padded([casing(t) for t in tokens]),
                "chars": pack_padded_sequence(ids, char_lengths, batch_first=True, enforce_sorted=False),
                "word_of_token": padded(word_of_token.astype(np.int64).tolist()), "lengths": lengths,
                "mask": torch.arange(int(lengths.max())) < lengths[:, None],
                "tags": padded([tag for _, tags in chunk for tag in tags])}

    def forward(self, batch: dict) -> torch.Tensor:
        """Emissions ``(B, L, 17)``."""
        packed = batch["chars"]
        chars = PackedSequence(self.chars(packed.data), packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
        _, (h_n, _) = self.char_lstm(chars)
        words = torch.cat([h_n[0], h_n[1]], dim=1)
        x = torch.cat([self.embedding(batch["words"]), self.casing(batch["casing"]), words[batch["word_of_token"]]], dim=2)
        x = pack_padded_sequence(self.dropout(x), batch["lengths"], batch_first=True, enforce_sorted=False)
        h = pad_packed_sequence(self.lstm(x)[0], batch_first=True)[0]
        return self.scores(self.dropout(h))

    def loss(self, batch: dict) -> torch.Tensor:
        return -self.crf(self(batch), batch["tags"], batch["mask"]).mean()

    def decode(self, batch: dict) -> torch.Tensor:
        return self.crf.decode(self(batch), batch["mask"])[0][batch["mask"]]


def rounds(runs: dict, repeat: int) -> dict[str, list[float]]:
    """Sentences/s of ``repeat`` passes of each ``name: (sentences, batches, step)`` (one warm-up batch
    each first), taken in rounds: one pass of every contender per round; by wall-clock time, and per
    second of this process's CPU time."""
    for _, batches, step in runs.values():
        step(batches[0])
    rates: dict[str, list[float]] = {name: [] for name in runs}
    cpu_rates: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, (count, batches, step) in runs.items():
            start, cpu = time.perf_counter(), time.process_time()
            for batch in batches:
                step(batch)
            rates[name].append(count / (time.perf_counter() - start))
            cpu_rates[name].append(count / (time.process_time() - cpu))
    return rates, cpu_rates


def contender(name: str, vocab: Vocabulary):
    """``(model, collate)`` of a contender: ``fused``, ``cells``, ``nn.LSTM tagger`` or ``nn.LSTM``."""
    if name in ("fused", "cells"):
        return tagger(vocab, name == "fused"), lambda chunk: TaggedBatch.of([t for t, _ in chunk], vocab,
                                                                            [tags for _, tags in chunk])
    if name == "nn.LSTM tagger":
        model = TorchTagger(vocab)
        return model, model.collate

    def lstm_batch(chunk):
        lengths = [len(t) for t, _ in chunk]
        x = torch.randn(len(chunk), max(lengths), 108)
        return x, torch.randint(0, 17, (len(chunk), max(lengths)))

    return WordLSTM(), lstm_batch


def steps(model: nn.Module):
    """The training step (forward, backward, Adam) and the decoding step of a contender."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def train_step(batch):
        model.train()
        optimizer.zero_grad()
        if isinstance(model, WordLSTM):
            x, tags = batch
            loss = nn.functional.cross_entropy(model(x).flatten(0, 1), tags.flatten())
        else:
            loss = model.loss(batch)
        loss.backward()
        optimizer.step()

    @torch.no_grad()
    def decode_step(batch):
        model.eval()
        model(batch[0]) if isinstance(model, WordLSTM) else model.decode(batch)

    return train_step, decode_step


def measure(names, data, vocab: Vocabulary, repeat: int) -> tuple[dict, dict]:
    """Per-round sentences/s of each contender, training at batch 32 and decoding at batch 256:
    ``{(name, what): rates}`` by wall-clock time and by CPU time."""
    out, out_cpu = {}, {}
    for what, size, train in [("train, batch 32", 32, True), ("decode, batch 256", 256, False)]:
        runs = {}
        for name in names:
            model, collate = contender(name, vocab)
            batches = [collate(data[k : k + size]) for k in range(0, len(data), size)]
            runs[name] = (len(data), batches, steps(model)[0 if train else 1])
        rates, cpu_rates = rounds(runs, repeat)
        for name in names:
            out[name, what], out_cpu[name, what] = rates[name], cpu_rates[name]
    return out, out_cpu


def compare(repeat: int = 5, smoke: bool = False, count: int = 2000) -> list[dict]:
    """The tagger (``fused``) against the same tagger on ``torch.nn.LSTM`` and against the bare word
    BiLSTM: per-round ratios of sentences/s, rows for ``tree_speed.py --compare``."""
    data = sentences(smoke)[:count]
    vocab = Vocabulary.build(tokens for tokens, _ in data)
    rates, cpu_rates = measure(["fused", "nn.LSTM tagger", "nn.LSTM"], data, vocab, repeat)
    rows = []
    for what in ("train, batch 32", "decode, batch 256"):
        for other in ("nn.LSTM tagger", "nn.LSTM"):
            ratios = [a / b for a, b in zip(rates["fused", what], rates[other, what])]
            cpu = [a / b for a, b in zip(cpu_rates["fused", what], cpu_rates[other, what])]
            rows.append({"what": f"NER tagger, {what}", "pair": f"tagger / {other}", "ratio": statistics.median(ratios),
                         "spread": f"({min(ratios):.2f}-{max(ratios):.2f})", "ratios": ratios,
                         "cpu_ratio": statistics.median(cpu), "cpu_spread": f"({min(cpu):.2f}-{max(cpu):.2f})",
                         "detail": f"{statistics.median(rates['fused', what]):,.0f} vs "
                                   f"{statistics.median(rates[other, what]):,.0f} sentences/s"})
    return rows


def profile(run) -> None:
    """Print the 12 functions ``run`` spends most time in (collating included)."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.runcall(run)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(12)


def main(argv=None) -> list[tuple[str, str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--sentences", type=int, default=2000, help="training sentences to time (first N)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="profile one fused training pass (cProfile, top 12)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = sentences(args.smoke)[: args.sentences]
    vocab = Vocabulary.build(tokens for tokens, _ in data)

    names = ["fused", "cells", "nn.LSTM tagger", "nn.LSTM"]
    rates, _ = measure(names, data, vocab, args.repeat)
    rows = [(name, what, statistics.median(values)) for (name, what), values in rates.items()]
    rows.sort(key=lambda row: names.index(row[0]))
    if args.profile:
        model, collate = contender("fused", vocab)
        train_step = steps(model)[0]
        profile(lambda: [train_step(collate(data[k : k + 32])) for k in range(0, len(data), 32)])
    reference = {what: rate for name, what, rate in rows if name == "fused"}
    print(f"{len(data):,} sentences, {sum(len(t) for t, _ in data):,} tokens, {args.threads} thread(s); "
          f"median of {args.repeat} passes\n")
    print("| model | what | sentences/s | x fused |\n|---|---|---:|---:|")
    for name, what, rate in rows:
        print(f"| {name} | {what} | {rate:,.0f} | {rate / reference[what]:.2f} |")
    return rows


if __name__ == "__main__":
    main()

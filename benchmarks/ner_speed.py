"""Speed of the NER tagger (BiLSTM-CRF with a character BiLSTM) on CoNLL-2003: training and decoding.

    python benchmarks/ner_speed.py             # CoNLL-2003 from $TREELSTM_DATA (default ../shared/data)
    python benchmarks/ner_speed.py --smoke     # 64 synthetic sentences, for the tests
    python benchmarks/ner_speed.py --profile   # also: where a fused training pass spends its time (cProfile)

Contenders, in one process, on the same sentences and sizes as configs/conll2003/blstm-crf-charlstm.yaml
(50-d words, 8-d casing, character BiLSTM 25+25, word BiLSTM 100+100, CRF):

* ``fused``: the tagger with its ChainLSTMs on torch's fused kernel (the default);
* ``cells``: the same tagger with the ChainLSTM cells run level by level (``fused=False``);
* ``nn.LSTM``: torch.nn.LSTM over the padded word inputs of the same size, with a linear layer:
  the word-level sequence model alone, without characters or CRF, as a speed reference.

Training: forward, backward and an Adam step at batch 32; decoding: forward (Viterbi for the
tagger) without gradients at batch 256. Prints the median sentences/s over --repeat passes (after
a warm-up batch), with the ratio to ``fused`` measured in the same run. One thread unless --threads.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from treelstm.models.tagger import SequenceTagger, TaggedBatch
from treelstm.nn.characters import CharLSTM
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
    """torch.nn.LSTM over padded inputs of the tagger's size (83 = 50 + 8 + 25), and tag scores."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(83, 100, bidirectional=True, batch_first=True)
        self.scores = nn.Linear(200, 17)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scores(self.lstm(x)[0])


def passes(data, size: int, collate, step, repeat: int) -> float:
    """Median sentences/s of ``repeat`` passes over ``data`` (batches collated once, one warm-up batch)."""
    batches = [collate(data[k : k + size]) for k in range(0, len(data), size)]
    step(batches[0])
    rates = []
    for _ in range(repeat):
        start = time.perf_counter()
        for batch in batches:
            step(batch)
        rates.append(len(data) / (time.perf_counter() - start))
    return statistics.median(rates)


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

    def tagger_batch(chunk):
        return TaggedBatch.of([t for t, _ in chunk], vocab, [tags for _, tags in chunk])

    def lstm_batch(chunk):
        lengths = [len(t) for t, _ in chunk]
        x = torch.randn(len(chunk), max(lengths), 83)
        return x, torch.randint(0, 17, (len(chunk), max(lengths)))

    rows = []
    for name, model, collate in [("fused", tagger(vocab, True), tagger_batch),
                                 ("cells", tagger(vocab, False), tagger_batch),
                                 ("nn.LSTM", WordLSTM(), lstm_batch)]:
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

        def train_step(batch, model=model, optimizer=optimizer):
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
        def decode_step(batch, model=model):
            model.eval()
            model(batch[0]) if isinstance(model, WordLSTM) else model.decode(batch)

        rows.append((name, "train, batch 32", passes(data, 32, collate, train_step, args.repeat)))
        if args.profile and name == "fused":
            profile(lambda: [train_step(collate(data[k : k + 32])) for k in range(0, len(data), 32)])
        rows.append((name, "decode, batch 256", passes(data, 256, collate, decode_step, args.repeat)))
    reference = {what: rate for name, what, rate in rows if name == "fused"}
    print(f"{len(data):,} sentences, {sum(len(t) for t, _ in data):,} tokens, {args.threads} thread(s); "
          f"median of {args.repeat} passes\n")
    print("| model | what | sentences/s | x fused |\n|---|---|---:|---:|")
    for name, what, rate in rows:
        print(f"| {name} | {what} | {rate:,.0f} | {rate / reference[what]:.2f} |")
    return rows


if __name__ == "__main__":
    main()

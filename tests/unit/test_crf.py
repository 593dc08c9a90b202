"""The linear-chain CRF against brute force over every tag sequence, and its padding, batching and gradients."""

import itertools

import pytest
import torch
from torch.func import functional_call

from treelstm.nn.crf import CRF, PENALTY

T = 3
LENGTHS = [4, 1, 3, 2]


def make_crf(seed: int, **constraints) -> CRF:
    """A float64 CRF with transitions large enough (standard normal) to matter."""
    torch.manual_seed(seed)
    crf = CRF(T, **constraints).double()
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.normal_()
    return crf


def make_batch(seed: int, lengths=LENGTHS) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    B, L = len(lengths), max(lengths)
    emissions = torch.randn(B, L, T, generator=generator, dtype=torch.float64)
    tags = torch.randint(T, (B, L), generator=generator)
    mask = torch.arange(L) < torch.tensor(lengths)[:, None]
    return emissions, tags, mask


def every_path(crf: CRF, emissions: torch.Tensor, mask: torch.Tensor):
    """For each sequence: all T**n tag sequences of its length n, ``(T**n, n)``, and their scores."""
    for b, n in enumerate(mask.sum(1).tolist()):
        paths = torch.tensor(list(itertools.product(range(T), repeat=n)))
        scores = crf.score(emissions[b : b + 1, :n].expand(len(paths), n, T), paths, torch.ones_like(paths, dtype=bool))
        yield paths, scores


def random_constraints(seed: int) -> dict[str, torch.Tensor]:
    """Random allowed transitions, start and end tags, with an allowed path of every length in LENGTHS."""
    generator = torch.Generator().manual_seed(seed)
    while True:
        constraints = {
            "allowed": torch.rand(T, T, generator=generator) < 0.6,
            "allowed_start": torch.rand(T, generator=generator) < 0.6,
            "allowed_end": torch.rand(T, generator=generator) < 0.6,
        }
        if all(any(is_allowed(path, **constraints) for path in itertools.product(range(T), repeat=n)) for n in LENGTHS):
            return constraints


def is_allowed(path, allowed, allowed_start, allowed_end) -> bool:
    path = list(path)
    steps = zip(path[:-1], path[1:])
    return bool(allowed_start[path[0]] and allowed_end[path[-1]] and all(allowed[i, j] for i, j in steps))


def test_score_is_the_sum_of_start_emission_transition_and_end_scores():
    crf = make_crf(0)
    emissions, tags, mask = make_batch(0)
    got = crf.score(emissions, tags, mask)
    A, start, end = crf.transitions, crf.start_transitions, crf.end_transitions
    for b, n in enumerate(LENGTHS):
        y, P = tags[b].tolist(), emissions[b]
        emitted, moved = sum(P[t, y[t]] for t in range(n)), sum(A[y[t - 1], y[t]] for t in range(1, n))
        want = start[y[0]] + emitted + moved + end[y[n - 1]]
        assert torch.allclose(got[b], want, atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_against_brute_force(seed):
    crf = make_crf(seed)
    emissions, tags, mask = make_batch(seed)
    log_z = crf.log_partition(emissions, mask)
    log_likelihood = crf(emissions, tags, mask)
    score = crf.score(emissions, tags, mask)
    best_path, best_score = crf.decode(emissions, mask)
    for b, (paths, scores) in enumerate(every_path(crf, emissions, mask)):
        n = LENGTHS[b]
        assert torch.allclose(log_z[b], scores.logsumexp(0), rtol=0, atol=1e-10)
        assert torch.allclose(log_likelihood[b], score[b] - scores.logsumexp(0), rtol=0, atol=1e-10)
        assert torch.allclose((scores - log_z[b]).exp().sum(), torch.tensor(1.0, dtype=torch.float64), atol=1e-10)
        assert best_path[b, :n].tolist() == paths[scores.argmax()].tolist()
        assert (best_path[b, n:] == 0).all()
        assert torch.allclose(best_score[b], scores.max(), rtol=0, atol=1e-10)


@pytest.mark.parametrize("seed", range(3))
def test_against_brute_force_with_constraints(seed):
    constraints = random_constraints(seed)
    crf = make_crf(seed, **constraints)
    free = make_crf(seed)  # the same parameters, without the constraints
    emissions, _, mask = make_batch(seed)
    log_z = crf.log_partition(emissions, mask)
    best_path, best_score = crf.decode(emissions, mask)
    brute_force = zip(every_path(crf, emissions, mask), every_path(free, emissions, mask))
    for b, ((paths, scores), (_, free_scores)) in enumerate(brute_force):
        n = LENGTHS[b]
        violations = torch.tensor(
            [
                int(not constraints["allowed_start"][p[0]])
                + int(not constraints["allowed_end"][p[-1]])
                + sum(int(not constraints["allowed"][i, j]) for i, j in zip(p[:-1], p[1:]))
                for p in paths.tolist()
            ],
            dtype=torch.float64,
        )
        assert torch.allclose(scores, free_scores + PENALTY * violations, rtol=0, atol=1e-9)
        assert torch.allclose(log_z[b], scores.logsumexp(0), rtol=0, atol=1e-10)
        assert best_path[b, :n].tolist() == paths[scores.argmax()].tolist()
        assert is_allowed(best_path[b, :n].tolist(), **constraints)
        assert torch.allclose(best_score[b], scores.max(), rtol=0, atol=1e-10)
    assert not torch.allclose(log_z, free.log_partition(emissions, mask))  # the constraints did bite


def test_constraints_follow_the_module_to_another_device_and_stay_out_of_the_state_dict():
    crf = CRF(T, allowed=torch.eye(T, dtype=torch.bool)).to("meta")
    assert crf.allowed.device.type == "meta" and crf.allowed_start.device.type == "meta"
    assert crf.allowed.dtype == torch.bool
    assert set(crf.state_dict()) == {"transitions", "start_transitions", "end_transitions"}


def test_padding_changes_nothing():
    crf = make_crf(4)
    emissions, tags, mask = make_batch(4)
    emissions.requires_grad_()
    other_emissions = torch.where(mask[..., None], emissions.detach(), 100 * torch.randn_like(emissions))
    other_tags = torch.where(mask, tags, (tags + 1) % T)
    log_likelihood = crf(emissions, tags, mask)
    assert torch.equal(log_likelihood, crf(other_emissions, other_tags, mask))
    for got, want in zip(crf.decode(emissions, mask), crf.decode(other_emissions, mask)):
        assert torch.equal(got, want)
    log_likelihood.sum().backward()
    assert (emissions.grad[~mask] == 0).all() and (emissions.grad[mask] != 0).any()


def test_a_padded_batch_equals_each_sequence_alone():
    crf = make_crf(5)
    emissions, tags, mask = make_batch(5, lengths=[6, 2, 5, 1, 4])
    log_likelihood = crf(emissions, tags, mask)
    path, score = crf.decode(emissions, mask)
    for b, n in enumerate(mask.sum(1).tolist()):
        alone = emissions[b : b + 1, :n], tags[b : b + 1, :n], mask[b : b + 1, :n]
        assert torch.allclose(log_likelihood[b : b + 1], crf(*alone), rtol=0, atol=1e-12)
        alone_path, alone_score = crf.decode(alone[0], alone[2])
        assert torch.equal(path[b : b + 1, :n], alone_path)
        assert torch.allclose(score[b : b + 1], alone_score, rtol=0, atol=1e-12)


def test_float32_agrees_with_float64():
    crf = make_crf(6)
    emissions, tags, mask = make_batch(6)
    log_likelihood = crf(emissions, tags, mask)
    crf32, emissions32 = crf.float(), emissions.float()
    assert crf32(emissions32, tags, mask).dtype == torch.float32
    assert torch.allclose(crf32(emissions32, tags, mask).double(), log_likelihood, atol=1e-5)
    assert torch.equal(crf32.decode(emissions32, mask)[0], crf.double().decode(emissions, mask)[0])


@pytest.mark.parametrize("constrained", [False, True])
def test_gradcheck_of_the_negative_log_likelihood(constrained):
    crf = make_crf(7, **(random_constraints(7) if constrained else {}))
    emissions, tags, mask = make_batch(7)
    names = ["transitions", "start_transitions", "end_transitions"]

    def nll(emissions, *parameters):
        return -functional_call(crf, dict(zip(names, parameters)), (emissions, tags, mask))

    inputs = (emissions, *(getattr(crf, name).detach().clone() for name in names))
    assert torch.autograd.gradcheck(nll, tuple(x.requires_grad_() for x in inputs))


def test_training_fits_and_decodes_a_sequence():
    torch.manual_seed(8)
    target = torch.tensor([[2, 0, 1, 1, 3, 2, 0]])
    mask = torch.ones_like(target, dtype=torch.bool)
    crf = CRF(4)
    emissions = torch.nn.Parameter(torch.zeros(1, 7, 4))
    assert not torch.equal(crf.decode(emissions, mask)[0], target)
    optimizer = torch.optim.Adam([emissions, *crf.parameters()], lr=0.1)
    for _ in range(30):
        optimizer.zero_grad()
        loss = -crf(emissions, target, mask).sum()
        loss.backward()
        optimizer.step()
    assert torch.equal(crf.decode(emissions, mask)[0], target)
    assert crf(emissions, target, mask).exp().item() > 0.9


def test_reset_parameters_is_uniform_in_a_small_interval():
    crf = CRF(50)
    for parameter in crf.parameters():
        assert parameter.abs().max() <= 0.1 and parameter.std() > 0.03


@pytest.mark.parametrize(
    "emissions, tags, mask, match",
    [
        (torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.long), torch.ones(2, 3, dtype=bool), "emissions must be"),
        (torch.zeros(2, 3, T + 1), torch.zeros(2, 3, dtype=torch.long), torch.ones(2, 3, dtype=bool), "num_tags=3"),
        (torch.zeros(2, 3, T), torch.zeros(2, 4, dtype=torch.long), torch.ones(2, 3, dtype=bool), "tags must be"),
        (torch.zeros(2, 3, T), torch.zeros(2, 3), torch.ones(2, 3, dtype=bool), "tags must be an int64 tensor"),
        (torch.zeros(2, 3, T), torch.zeros(2, 3, dtype=torch.long), torch.ones(3, 2, dtype=bool), "mask must be"),
        (torch.zeros(2, 3, T), torch.zeros(2, 3, dtype=torch.long), torch.ones(2, 3), "mask must be a bool"),
        (torch.zeros(2, 0, T), torch.zeros(2, 0, dtype=torch.long), torch.ones(2, 0, dtype=bool), "at least one token"),
        (
            torch.zeros(2, 3, T),
            torch.zeros(2, 3, dtype=torch.long),
            torch.tensor([[True, True, True], [False, False, False]]),
            "at least one token",
        ),
        (
            torch.zeros(2, 3, T),
            torch.zeros(2, 3, dtype=torch.long),
            torch.tensor([[True, True, True], [True, False, True]]),
            "prefix mask",
        ),
        (torch.zeros(1, 3, T), torch.tensor([[0, 1, -1]]), torch.tensor([[True, True, False]]), r"tags must be in \[0"),
        (torch.zeros(1, 3, T), torch.tensor([[0, 3, 1]]), torch.ones(1, 3, dtype=bool), r"tags must be in \[0"),
    ],
)
def test_bad_inputs_raise_value_errors(emissions, tags, mask, match):
    crf = CRF(T)
    with pytest.raises(ValueError, match=match):
        crf(emissions, tags, mask)
    if "tags" not in match:  # the checks on emissions and mask guard every method
        for method in (crf.log_partition, crf.decode):
            with pytest.raises(ValueError, match=match):
                method(emissions, mask)


@pytest.mark.parametrize(
    "constraints, match",
    [
        ({"allowed": torch.ones(T, T)}, "allowed must be a bool tensor"),
        ({"allowed": torch.ones(T, T + 1, dtype=bool)}, r"allowed must be a bool tensor of shape \(3, 3\)"),
        ({"allowed_start": torch.ones(T + 1, dtype=bool)}, r"allowed_start must be a bool tensor of shape \(3,\)"),
        ({"allowed_end": torch.ones(1, T, dtype=bool)}, r"allowed_end must be a bool tensor of shape \(3,\)"),
    ],
)
def test_bad_constraints_raise_value_errors(constraints, match):
    with pytest.raises(ValueError, match=match):
        CRF(T, **constraints)

"""The curriculum example's parts: Net2Net growth, growth policy, replay, sleep, checkpoints."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from curriculum import checkpoint  # noqa: E402
from curriculum.consolidation import SleepPhase, sleep_phase  # noqa: E402
from curriculum.data import DEFAULT_STAGES, ClusterTask, ReplayBuffer  # noqa: E402
from curriculum.growth import GrowthPolicy, region_capacity  # noqa: E402
from curriculum.model import GrowthError, RegionMLP  # noqa: E402

REGIONS = {"sensory": 6, "association": 5, "motor": 4}


def _trained_model(seed: int = 0) -> RegionMLP:
    torch.manual_seed(seed)
    model = RegionMLP(10, REGIONS, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y = torch.randn(64, 10), torch.randint(0, 3, (64,))
    for _ in range(5):  # off the initial weights, so biases and weights are all in play
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model.logits(x), y).backward()
        opt.step()
    return model


@pytest.mark.parametrize("region", list(REGIONS))
@pytest.mark.parametrize("n_new", [1, 3, 12])  # 12 > width: some units are copied twice
def test_net2net_widening_preserves_the_function(region: str, n_new: int) -> None:
    model = _trained_model()
    x = torch.randn(128, 10)
    before = model.logits(x).detach()
    model.widen(region, n_new, generator=torch.Generator().manual_seed(n_new))
    after = model.logits(x).detach()
    assert model.widths[region] == REGIONS[region] + n_new
    assert torch.allclose(before, after, atol=1e-5, rtol=1e-5)


def test_repeated_growth_of_every_region_preserves_the_function() -> None:
    model = _trained_model(seed=1)
    x = torch.randn(64, 10)
    before = model.logits(x).detach()
    gen = torch.Generator().manual_seed(3)
    for _ in range(3):
        for region in REGIONS:
            model.widen(region, 4, generator=gen)
    assert torch.allclose(before, model.logits(x).detach(), atol=1e-4, rtol=1e-4)
    assert model.widths == {name: width + 12 for name, width in REGIONS.items()}
    out = model(x, return_activations=True)
    assert isinstance(out, tuple)
    assert {name: a.shape[1] for name, a in out[1].items()} == model.widths


def test_grown_copies_learn_apart() -> None:
    """The random split of outgoing weights breaks the symmetry between a unit and its copy."""
    model = RegionMLP(4, {"only": 1}, 2)
    model.widen("only", 1, generator=torch.Generator().manual_seed(0))
    layer = model.regions[0]
    assert torch.equal(layer.weight[0], layer.weight[1])
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    x, y = torch.randn(32, 4), torch.randint(0, 2, (32,))
    torch.nn.functional.cross_entropy(model.logits(x), y).backward()
    opt.step()
    assert not torch.equal(layer.weight[0], layer.weight[1])


def test_widen_refuses_bad_requests() -> None:
    model = RegionMLP(4, {"cortex": 3}, 2)
    with pytest.raises(GrowthError, match="unknown region 'thalamus'"):
        model.widen("thalamus", 2)
    with pytest.raises(GrowthError, match="positive"):
        model.widen("cortex", 0)
    with pytest.raises(GrowthError, match="at least one region"):
        RegionMLP(4, {}, 2)


def test_region_capacity_is_the_share_of_used_units() -> None:
    acts = torch.tensor([[1.0, 0.0, 0.0], [1.0, 2.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    assert region_capacity(acts, min_activity=0.25) == pytest.approx(2 / 3)
    assert region_capacity(acts, min_activity=0.5) == pytest.approx(1 / 3)
    assert math.isnan(region_capacity(torch.empty(0, 3)))


@pytest.mark.parametrize(
    ("capacity", "accuracy", "width", "expected"),
    [
        (0.95, 0.5, 16, [("cortex", 8, 24)]),  # saturated and below target: grow by half
        (0.95, 0.5, 4, [("cortex", 4, 8)]),  # at least min_new units
        (0.95, 0.5, 30, [("cortex", 2, 32)]),  # capped at max_width
        (0.95, 0.5, 32, []),  # already at max_width
        (0.80, 0.5, 16, []),  # room left in the region
        (0.95, 0.95, 16, []),  # target reached: no need
        (0.95, math.nan, 16, []),  # no accuracy: no decision
        (math.nan, 0.5, 16, []),  # no capacity measured
    ],
)
def test_growth_policy(capacity: float, accuracy: float, width: int, expected: list) -> None:
    policy = GrowthPolicy(saturation=0.9, growth_factor=0.5, min_new=4, max_width=32)
    decisions = policy.decide(
        {"cortex": width}, {"cortex": capacity}, accuracy=accuracy, target=0.9
    )
    assert [(d.region, d.neurons_added, d.new_total) for d in decisions] == expected
    assert all("capacity" in d.reason and "target" in d.reason for d in decisions)


def test_cluster_task_is_fixed_by_the_seed_and_harder_each_stage() -> None:
    a, b = (ClusterTask(input_dim=6, n_classes=8, seed=5) for _ in range(2))
    assert torch.equal(a.centres, b.centres)
    x1, y1 = a.eval_set(DEFAULT_STAGES[1])
    x2, y2 = b.eval_set(DEFAULT_STAGES[1])
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert set(y1.tolist()) == set(range(DEFAULT_STAGES[1].n_classes))
    spreads = [s.spread for s in DEFAULT_STAGES]
    classes = [s.n_classes for s in DEFAULT_STAGES]
    assert spreads == sorted(spreads) and classes == sorted(classes)
    with pytest.raises(ValueError, match="raise n_classes"):
        ClusterTask(input_dim=6, n_classes=2, seed=0).batch(
            DEFAULT_STAGES[3], 4, generator=torch.Generator()
        )


def test_replay_buffer_keeps_per_stage_examples_and_round_trips() -> None:
    buf = ReplayBuffer(per_stage=5)
    buf.add(0, torch.randn(3, 2), torch.zeros(3, dtype=torch.long))
    buf.add(0, torch.randn(4, 2), torch.zeros(4, dtype=torch.long))
    buf.add(1, torch.randn(2, 2), torch.ones(2, dtype=torch.long))
    assert len(buf) == 7 and buf.stages == [0, 1]
    copy = ReplayBuffer(per_stage=1)
    copy.load_state_dict(buf.state_dict())
    for stage in (0, 1):
        for mine, theirs in zip(buf.stage_examples(stage), copy.stage_examples(stage), strict=True):
            assert torch.equal(mine, theirs)
    x, y = buf.sample(50, generator=torch.Generator().manual_seed(0))
    assert x.shape == (50, 2) and set(y.tolist()) == {0, 1}
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(3).sample(1, generator=torch.Generator())


@pytest.mark.parametrize(("stage", "noise"), [("NREM", 0.0), ("REM", 0.5)])
def test_sleep_phase_replays_and_restores_the_learning_rate(stage: str, noise: float) -> None:
    model = _trained_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.2)
    buf = ReplayBuffer(per_stage=16)
    buf.add(0, torch.randn(16, 10), torch.randint(0, 3, (16,)))
    before = [p.detach().clone() for p in model.parameters()]
    result = sleep_phase(
        model,
        opt,
        buf,
        SleepPhase(stage, 3, 8, noise_std=noise),  # type: ignore[arg-type]
        generator=torch.Generator().manual_seed(0),
        device=torch.device("cpu"),
    )
    assert (result.sleep_stage, result.patterns_replayed, result.duration_steps) == (stage, 24, 3)
    assert math.isfinite(result.mean_loss)
    assert opt.param_groups[0]["lr"] == 0.2
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_checkpoints_are_atomic_pruned_and_the_newest_loadable_one_wins(tmp_path: Path) -> None:
    for step in (10, 20, 30, 40):
        checkpoint.save(
            tmp_path, step, {"step": step, "w": torch.full((2,), float(step))}, keep_last=3
        )
    assert [s for s, _ in checkpoint.list_checkpoints(tmp_path)] == [40, 30, 20]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left
    (tmp_path / "checkpoint_50.pt").write_bytes(b"half a checkpoint")
    step, payload = checkpoint.load_latest(tmp_path)  # type: ignore[misc]
    assert (
        step == 40 and payload["step"] == 40 and torch.equal(payload["w"], torch.full((2,), 40.0))
    )
    assert checkpoint.load_latest(tmp_path / "missing") is None


def test_only_unloadable_checkpoints_is_a_named_error(tmp_path: Path) -> None:
    (tmp_path / "checkpoint_5.pt").write_bytes(b"garbage")
    with pytest.raises(checkpoint.CheckpointError, match="--log-dir at a new directory"):
        checkpoint.load_latest(tmp_path)

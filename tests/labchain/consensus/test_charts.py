"""The notebook figures draw from a real simulation (Agg backend, no display)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from labchain.consensus.charts import measure, scaling_chart, sequence_chart  # noqa: E402
from labchain.consensus.engine import ConsensusError  # noqa: E402
from simkit import tbft_sim  # noqa: E402


def test_sequence_chart_draws_every_message_of_the_height(tmp_path):
    sim = tbft_sim(4, seed=1)
    sim.run(stop=lambda s: min(s.heights().values()) >= 3)
    ax = sequence_chart(sim, 2)
    arrows = [c for c in ax.texts]            # one annotation per message
    assert len(arrows) == len([d for d in sim.deliveries if d.height == 2])
    assert "height 2" in ax.get_title()
    ax.figure.savefig(tmp_path / "msc.png")
    assert (tmp_path / "msc.png").stat().st_size > 5000
    with pytest.raises(ConsensusError, match="no message of height 99"):
        sequence_chart(sim, 99)


def test_messages_per_height_grow_quadratically(tmp_path):
    points = measure(lambda n: tbft_sim(n, seed=2, record=False), [4, 8, 16], heights=5)
    per = {p.n: p.messages_per_height for p in points}
    # about 2n(n-1) votes + (n-1) proposal copies: doubling n roughly quadruples the count
    assert 3.0 < per[8] / per[4] < 5.0 and 3.0 < per[16] / per[8] < 5.0
    assert all(p.latency > 0 for p in points)
    scaling_chart(points).savefig(tmp_path / "scaling.png")
    assert (tmp_path / "scaling.png").stat().st_size > 5000

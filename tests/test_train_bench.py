"""The counting in `bench/train_bench.py` (what its tokens/s mean); the timings themselves are never asserted."""
import sys
from pathlib import Path
import torch
sys.path.insert(0, str(Path(__file__).resolve().parent.parent/'bench'))
from train_bench import Probe, summarize

def test_probe_counts_real_padded_and_labelled_tokens():
    p = Probe()
    ids = torch.tensor([[5, 6, 7, 0], [5, 6, 0, 0]])
    labels = torch.tensor([[-100, 6, 7, -100], [-100, 6, -100, -100]])
    p.step(dict(input_ids=ids, attention_mask=(ids != 0).long(), labels=labels), 0, 1, 0, 1)
    # a neat-packed row has no mask: its real length ends at its last label, the padding after it is unlabelled
    p.step(dict(input_ids=torch.tensor([[5, 6, 7, 8, 0, 0]]), labels=torch.tensor([[-100, 6, -100, 8, -100, -100]])),
           1, 2, 1, 2)
    assert (p.real, p.padded, p.labelled) == ([5, 4], [8, 6], [3, 2])

def test_ratios_pair_each_llmft_run_with_the_baseline_run_after_it(capsys):
    run = lambda tps, loss: dict(real_tps=tps, padded_tps=tps, startup_s=1, peak_rss_mb=100, eval_loss=loss,
                                 loss=[2.0, 1.0])
    runs = [('llmft', run(300, 1.0)), ('trl', run(100, 1.0)), ('llmft', run(200, 1.0)), ('trl', run(100, 1.0))]
    r = summarize('fp32', runs, dict(steps=20))
    assert (r['real_tps']['min'], r['real_tps']['max'], r['real_tps']['mean']) == (2.0, 3.0, 2.5)
    assert '| llmft / baseline | x2.50 (2.00-3.00)' in capsys.readouterr().out

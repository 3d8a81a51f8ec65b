"""The README's demo for real: SmolLM2-135M learns a new name from the identity data (slow: about 2 minutes)."""
import re, subprocess
import pytest

@pytest.mark.slow
def test_demo_teaches_a_new_identity(llmft_cmd, tmp_path):
    r = subprocess.run([llmft_cmd, 'demo', 'num_train_epochs=2', f'output_dir={tmp_path}/demo',
                        'placeholders.name=Zorblax', 'placeholders.author=Quillfeather Labs'],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    before, after, n = map(int, re.search(r'new name or author in answer: before (\d+)/(\d+), after (\d+)/\d+',
                                          r.stdout).group(1, 3, 2))
    assert n == 8 and before == 0 and after >= 6, r.stdout[-3000:]
    assert re.search(r'final loss [\d.]+ \| \d+ tokens/s \| peak memory \d+ MB', r.stdout)
    assert (tmp_path/'demo'/'loss.png').stat().st_size > 1000 and (tmp_path/'demo'/'loss.html').exists()

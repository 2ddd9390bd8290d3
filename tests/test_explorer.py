"""The latent explorer: slider order and ranges, models it refuses, and the page in headless Chromium,
where moving a slider redraws the image and the decoded values match ``inverse_transform``."""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pandas as pd
import pytest
from test_browser import chromium, run_chromium, console_messages  # noqa: F401 (the fixture)

import aekit
from aekit.viz.explorer import MAX_SLIDERS, UnsupportedDecoder, explorer_spec, latent_explorer

#: The page's weights are half floats (measured: decoded pixels within 9e-5 of float32 here); 2e-3 is half an 8-bit level.
TOLERANCE = 2e-3

CHECK = """<script>
window.addEventListener("load", function () {
  var sections = document.querySelectorAll("section.explorer");
  var results = (window.aekitExplorers || []).map(function (e, i) {
    var canvas = sections[i].querySelector("canvas");
    function pixels() { return Array.from(canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data); }
    var before = pixels(), startCode = e.code.slice(), startOutput = Array.from(e.output);
    var slider = sections[i].querySelector("input[type=range]");
    slider.value = slider.max;
    slider.dispatchEvent(new Event("input"));
    var after = pixels();
    return {name: e.name, start_code: startCode, start_output: startOutput, code: e.code.slice(),
            output: Array.from(e.output), dim: +slider.dataset.dim,
            changed: before.filter(function (v, k) { return v !== after[k]; }).length};
  });
  var out = document.createElement("pre");
  out.id = "explorer-check";
  out.textContent = JSON.stringify(results);
  document.body.appendChild(out);
});
</script>"""


@pytest.fixture(scope="module")
def models(digits):
    X, _ = digits
    return {
        "AutoEncoder (mlp)": aekit.AutoEncoder(latent_dim=4, architecture="mlp", epochs=2, random_state=0).fit(X[:1000]),
        "VAE (conv)": aekit.VAE(latent_dim=4, activation="elu", epochs=2, random_state=0).fit(X[:1000]),
    }


def test_sliders_are_ranked_and_span_the_codes(models, digits):
    X = digits[0][1000:]
    for name, model in models.items():
        spec = explorer_spec(name, model, X, start=3)
        codes = model.transform(X)
        np.testing.assert_allclose(spec["start"], codes[3])
        scores = [float(d["label"].split()[-1]) for d in spec["dims"]]
        assert scores == sorted(scores, reverse=True) and sorted(d["dim"] for d in spec["dims"]) == [0, 1, 2, 3]
        assert spec["dims"][0]["label"].split()[1] == ("KL" if "VAE" in name else "var")
        assert all(d["low"] <= codes[3, d["dim"]] <= d["high"] for d in spec["dims"])
    wide = aekit.SparseAutoEncoder(latent_dim=12, epochs=1, random_state=0).fit(digits[0][:300])
    assert len(explorer_spec("wide", wide, X)["dims"]) == MAX_SLIDERS  # the rest keep their start value


def test_models_the_page_cannot_decode_are_left_out(digits):
    X, y = digits
    table = aekit.TabularAutoEncoder(latent_dim=1, epochs=1, random_state=0).fit(pd.DataFrame({"a": [1.0, 2.0] * 20, "b": ["x", "y"] * 20}))
    with pytest.raises(UnsupportedDecoder, match="image models"):
        explorer_spec("table", table, X)
    conditional = aekit.VAE(latent_dim=2, epochs=1, conditional=True, random_state=0).fit(X[:200], y[:200])
    block, skipped = latent_explorer({"cvae": conditional}, X[:50])
    assert block == "" and skipped == ["cvae: a conditional decoder also needs the label"]


def test_moving_a_slider_redraws_the_decoded_image(chromium, models, digits, tmp_path):  # noqa: F811
    X = digits[0][1000:]
    block, skipped = latent_explorer(models, X)
    assert skipped == []
    page = tmp_path / "explorer.html"
    page.write_text(f"<!doctype html><html><head><meta charset=utf-8></head><body>{block}{CHECK}</body></html>")
    result = run_chromium(chromium, tmp_path / "profile", page.as_uri(), "--virtual-time-budget=10000", "--dump-dom")
    # Chromium notes the check script's own repeated pixel readbacks; anything else the page logs fails.
    assert [m for m in console_messages(result.stderr) if "Multiple readback operations" not in m] == []
    found = json.loads(html.unescape(re.search(r'<pre id="explorer-check">(.*?)</pre>', result.stdout, re.S).group(1)))
    worst = []
    assert [r["name"] for r in found] == list(models)
    for r in found:
        model = models[r["name"]]
        np.testing.assert_allclose(r["start_code"], model.transform(X[:1])[0], rtol=1e-6)
        assert r["code"][r["dim"]] != r["start_code"][r["dim"]] and r["changed"] > 0  # the image changed
        for code, output in ((r["start_code"], r["start_output"]), (r["code"], r["output"])):
            expected = model.inverse_transform(np.array([code], dtype=np.float32)).ravel()
            np.testing.assert_allclose(output, expected, atol=TOLERANCE)
            worst.append(float(np.abs(np.asarray(output) - expected).max()))
    print(f"largest difference from inverse_transform: {max(worst):.2g}")

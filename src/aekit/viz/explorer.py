"""The live latent explorer: sliders for a model's latent coordinates and the decoded image, in the page.

Each image model's decoder (MLP or convolutional: linear layers, transposed
convolutions, activations, and the likelihood's mean) is written into the page as
half-float weights (base64) and run by a few dozen lines of plain JavaScript, so the
page needs no library and no network.  One slider per latent dimension, ranked by the
mean KL to the prior on the test inputs for models with a posterior (VAE family) and
by the variance of the test codes otherwise (the ten highest get one), starts at the code of a chosen test input;
moving a slider decodes the new code and redraws the image at once.

``window.aekitExplorers`` lists the explorers of a page (their ``code``, ``output`` and
``decode(z)``), which is how the browser test reads what the page computed.
"""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

#: Pixels of the longer side of an explorer's image on the page (nearest-neighbour upscaling).
DISPLAY_SIDE = 168
#: Sliders per model: the most used coordinates; the others stay at the start code.
MAX_SLIDERS = 10

_ACTIVATIONS = {
    nn.ReLU: "relu",
    nn.LeakyReLU: "leaky_relu",
    nn.ELU: "elu",
    nn.GELU: "gelu",
    nn.SiLU: "silu",
    nn.Tanh: "tanh",
    nn.Sigmoid: "sigmoid",
}

STYLE = """
.explorer{margin:1em 0 2em;background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:10px}
.explorer h3{margin:.2em 0 .6em;font-size:1.05em}
.explorer-body{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
.explorer canvas{image-rendering:pixelated;border:1px solid #ccc;background:#000;max-width:100%}
.explorer .sliders{flex:1 1 260px;min-width:0;display:grid;grid-template-columns:max-content 1fr;gap:2px 10px;align-items:center}
.explorer .sliders label{font:13px/1.3 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:nowrap}
.explorer input[type=range]{width:100%;min-width:0}
.explorer button{margin-top:8px}
"""

SCRIPT = r"""
(function () {
  function floats(text) {  // IEEE half floats (little-endian) -> Float64Array
    var bytes = atob(text), n = bytes.length / 2, out = new Float64Array(n);
    for (var i = 0; i < n; i++) {
      var h = bytes.charCodeAt(2 * i) | (bytes.charCodeAt(2 * i + 1) << 8);
      var sign = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
      out[i] = sign * (e === 0 ? m * Math.pow(2, -24) : e === 31 ? (m ? NaN : Infinity) : (1 + m / 1024) * Math.pow(2, e - 15));
    }
    return out;
  }
  function erf(x) {  // Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7)
    var s = x < 0 ? -1 : 1, t = 1 / (1 + 0.3275911 * Math.abs(x));
    var y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
    return s * y;
  }
  var ACT = {
    relu: function (v) { return v > 0 ? v : 0; },
    leaky_relu: function (v) { return v > 0 ? v : 0.01 * v; },
    elu: function (v) { return v > 0 ? v : Math.expm1(v); },
    gelu: function (v) { return 0.5 * v * (1 + erf(v / Math.SQRT2)); },
    silu: function (v) { return v / (1 + Math.exp(-v)); },
    tanh: Math.tanh,
    sigmoid: function (v) { return 1 / (1 + Math.exp(-v)); }
  };
  function linear(l, x) {
    var out = new Float64Array(l.out);
    for (var j = 0; j < l.out; j++) {
      var s = l.b[j], row = j * l.in;
      for (var i = 0; i < l.in; i++) s += l.W[row + i] * x[i];
      out[j] = s;
    }
    return out;
  }
  function deconv(l, x) {  // transposed convolution, weight (c_in, c_out, k, k)
    var H = l.out_h, W = l.out_w, h = l.in_h, w = l.in_w, k = l.k, st = l.stride, p = l.pad;
    var out = new Float64Array(l.c_out * H * W);
    for (var co = 0; co < l.c_out; co++) for (var q = 0; q < H * W; q++) out[co * H * W + q] = l.b[co];
    for (var ci = 0; ci < l.c_in; ci++) for (var y = 0; y < h; y++) for (var xx = 0; xx < w; xx++) {
      var v = x[(ci * h + y) * w + xx];
      if (v === 0) continue;
      for (var c = 0; c < l.c_out; c++) for (var ky = 0; ky < k; ky++) {
        var oy = y * st - p + ky;
        if (oy < 0 || oy >= H) continue;
        for (var kx = 0; kx < k; kx++) {
          var ox = xx * st - p + kx;
          if (ox < 0 || ox >= W) continue;
          out[(c * H + oy) * W + ox] += v * l.W[((ci * l.c_out + c) * k + ky) * k + kx];
        }
      }
    }
    return out;
  }
  function decode(layers, z) {
    var x = Float64Array.from(z);
    for (var i = 0; i < layers.length; i++) {
      var l = layers[i];
      if (l.type === "linear") x = linear(l, x);
      else if (l.type === "deconv") x = deconv(l, x);
      else if (l.type === "act") { var f = ACT[l.name]; for (var j = 0; j < x.length; j++) x[j] = f(x[j]); }
    }
    return x;
  }
  function draw(canvas, shape, values) {
    var channels = shape.length === 3 ? shape[0] : 1, h = shape[shape.length - 2], w = shape[shape.length - 1];
    var ctx = canvas.getContext("2d"), image = ctx.createImageData(w, h), plane = h * w;
    for (var q = 0; q < plane; q++) {
      for (var c = 0; c < 3; c++) {
        var v = values[(channels === 3 ? c : 0) * plane + q];
        image.data[4 * q + c] = Math.round(255 * Math.min(1, Math.max(0, v)));
      }
      image.data[4 * q + 3] = 255;
    }
    ctx.putImageData(image, 0, 0);
  }
  var explorers = [];
  Array.prototype.forEach.call(document.querySelectorAll("section.explorer"), function (section) {
    var spec = JSON.parse(section.querySelector("script.explorer-data").textContent);
    spec.layers.forEach(function (l) { if (l.W) { l.W = floats(l.W); l.b = floats(l.b); } });
    var canvas = section.querySelector("canvas"), sliders = section.querySelectorAll("input[type=range]");
    var explorer = {name: spec.name, code: spec.start.slice(), output: null,
                    decode: function (z) { return decode(spec.layers, z); }};
    function update() {
      Array.prototype.forEach.call(sliders, function (s) { explorer.code[+s.dataset.dim] = parseFloat(s.value); });
      explorer.output = explorer.decode(explorer.code);
      draw(canvas, spec.shape, explorer.output);
    }
    Array.prototype.forEach.call(sliders, function (s) { s.addEventListener("input", update); });
    section.querySelector("button").addEventListener("click", function () {
      Array.prototype.forEach.call(sliders, function (s) { s.value = spec.start[+s.dataset.dim]; });
      update();
    });
    update();
    explorers.push(explorer);
  });
  window.aekitExplorers = explorers;
})();
"""


class UnsupportedDecoder(ValueError):
    """A decoder with a layer the page's JavaScript does not run."""


def _floats(array: torch.Tensor) -> str:
    """Weights as base64 half floats: half the page's size of float32 (on MNIST, 5 conv decoders
    take 1.8 MB instead of 3.6 MB), for decoded pixels within about 1e-3 of float32's."""
    half = array.detach().cpu().to(torch.float16).contiguous().numpy()
    return base64.b64encode(half.astype("<f2").tobytes()).decode("ascii")


def decoder_layers(decoder: nn.Module, latent_dim: int, mean: str) -> list[dict[str, Any]]:
    """The decoder as the page's layer list (shapes traced with a zero code); ``mean`` is the
    likelihood's mean ("sigmoid" or "identity").  Raises UnsupportedDecoder for other layers."""
    layers: list[dict[str, Any]] = []
    x = torch.zeros(1, latent_dim)
    with torch.no_grad():
        for layer in decoder.children() if isinstance(decoder, nn.Sequential) else [decoder]:
            shape_in = tuple(x.shape[1:])
            x = layer(x)
            if isinstance(layer, nn.Linear):
                layers.append({"type": "linear", "in": layer.in_features, "out": layer.out_features,
                               "W": _floats(layer.weight), "b": _floats(layer.bias)})  # fmt: skip
            elif isinstance(layer, nn.ConvTranspose2d):
                if layer.groups != 1 or layer.dilation != (1, 1) or len(set(layer.kernel_size + layer.stride + layer.padding)) > 3:
                    raise UnsupportedDecoder(f"{layer} is not a plain square transposed convolution")
                layers.append({
                    "type": "deconv", "c_in": layer.in_channels, "c_out": layer.out_channels,
                    "k": layer.kernel_size[0], "stride": layer.stride[0], "pad": layer.padding[0],
                    "in_h": shape_in[1], "in_w": shape_in[2], "out_h": int(x.shape[2]), "out_w": int(x.shape[3]),
                    "W": _floats(layer.weight), "b": _floats(layer.bias),
                })  # fmt: skip
            elif type(layer) in _ACTIVATIONS:
                if isinstance(layer, nn.LeakyReLU) and layer.negative_slope != 0.01:
                    raise UnsupportedDecoder(f"{layer} has a slope the page does not use")
                if isinstance(layer, nn.GELU) and layer.approximate != "none":
                    raise UnsupportedDecoder(f"{layer} is approximated")
                layers.append({"type": "act", "name": _ACTIVATIONS[type(layer)]})
            elif not isinstance(layer, (nn.Unflatten, nn.Flatten, nn.Dropout)):  # layout only, or off in eval
                raise UnsupportedDecoder(f"the page cannot run a {type(layer).__name__} layer")
    if mean == "sigmoid":
        layers.append({"type": "act", "name": "sigmoid"})
    return layers


def _mean_function(likelihood: nn.Module) -> str:
    name = getattr(likelihood, "name", None)
    if name == "bernoulli":
        return "sigmoid"
    if name in ("mse", "gaussian"):
        return "identity"
    raise UnsupportedDecoder(f"the page cannot compute the mean of a {type(likelihood).__name__} likelihood")


def explorer_spec(name: str, estimator: Any, X: np.ndarray, start: int = 0) -> dict[str, Any]:
    """What the page needs for one model: its decoder, the slider order and ranges, the start code.

    ``X`` are test inputs (their codes set the ranges: mean +- 3 standard deviations per
    dimension); the sliders start at the code of ``X[start]``.  Only the :data:`MAX_SLIDERS`
    highest-ranked dimensions get one; the others keep their start value.  Raises UnsupportedDecoder
    for a model the page cannot decode (not an image model, a conditional decoder, or a
    layer the JavaScript lacks).
    """
    module = getattr(estimator, "module_", None)
    shape = tuple(getattr(estimator, "input_shape_", ()))
    if module is None or not (len(shape) == 2 or (len(shape) == 3 and shape[0] in (1, 3))):
        raise UnsupportedDecoder("only fitted image models (grey or RGB) get an explorer")
    if getattr(module, "n_conditions", 0):
        raise UnsupportedDecoder("a conditional decoder also needs the label")
    layers = decoder_layers(module.decoder, estimator.latent_dim_, _mean_function(module.likelihood))
    codes = estimator.transform(X).astype(np.float64)
    if hasattr(module, "posterior_params"):
        x = torch.as_tensor(np.asarray(X, dtype=np.float32).reshape(len(X), *estimator.model_shape_))
        with torch.no_grad():
            mu, logvar = module.posterior_params(x.to(estimator.device_))
        score = (0.5 * (mu.square() + logvar.exp() - logvar - 1)).mean(0).double().cpu().numpy()
        what = "KL"
    else:
        score, what = codes.var(0), "var"
    order = np.argsort(-score, kind="stable")
    centre, spread = codes.mean(0), np.maximum(codes.std(0), 1e-3)
    start_code = codes[start]
    dims = []
    for d in order[:MAX_SLIDERS]:
        low, high = min(centre[d] - 3 * spread[d], start_code[d]), max(centre[d] + 3 * spread[d], start_code[d])
        dims.append({"dim": int(d), "low": float(low), "high": float(high), "label": f"z{d} {what} {score[d]:.2g}"})
    return {"name": name, "shape": list(shape), "start": [float(v) for v in start_code], "dims": dims, "layers": layers}


def render_explorer(spec: Mapping[str, Any]) -> str:
    """One model's explorer section (its data as JSON; :data:`SCRIPT` wires it up)."""
    esc = html.escape
    slug = "".join(c if c.isalnum() else "-" for c in spec["name"].lower())
    h, w = spec["shape"][-2:]
    scale = max(1, DISPLAY_SIDE // max(h, w))
    sliders = "".join(
        f'<label for="{slug}-z{d["dim"]}">{esc(d["label"])}</label>'
        f'<input type="range" id="{slug}-z{d["dim"]}" data-dim="{d["dim"]}" min="{d["low"]:.6g}" '
        f'max="{d["high"]:.6g}" step="any" value="{spec["start"][d["dim"]]!r}">'
        for d in spec["dims"]
    )
    data = json.dumps(spec, separators=(",", ":")).replace("</", "<\\/")
    return (
        f'<section class="explorer"><h3>{esc(spec["name"])}</h3><div class="explorer-body">'
        f'<canvas width="{w}" height="{h}" style="width:{w * scale}px;height:{h * scale}px" '
        f'aria-label="decoded image of {esc(spec["name"])}"></canvas>'
        f'<div class="sliders">{sliders}</div></div><button type="button">back to the start code</button>'
        f'<script type="application/json" class="explorer-data">{data}</script></section>\n'
    )


def latent_explorer(models: Mapping[str, Any], X: np.ndarray, start: int = 0) -> tuple[str, list[str]]:
    """The explorers of every model the page can decode, as one HTML block (with the script),
    and a note per model left out (why).  An empty block when none can be explored."""
    sections, skipped = [], []
    for name, estimator in models.items():
        try:
            sections.append(render_explorer(explorer_spec(name, estimator, X, start)))
        except UnsupportedDecoder as exc:
            if hasattr(estimator, "module_"):
                skipped.append(f"{name}: {exc}")
    if not sections:
        return "", skipped
    return f"<style>{STYLE}</style>\n{''.join(sections)}<script>{SCRIPT}</script>\n", skipped


__all__ = ["UnsupportedDecoder", "decoder_layers", "explorer_spec", "latent_explorer", "render_explorer"]

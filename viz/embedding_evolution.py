"""The embedding space evolving while training: a PCA with a fixed basis, frame by frame.

    from models.word2vec_objectives import Snapshots, train_word2vec
    snaps = Snapshots(words=["king", "queen", "car"], pairs=[("king", "queen"), ("king", "car")])
    train_word2vec(sentences, snapshots=snaps)
    write_evolution_html(snaps, "evolution.html")   # self-contained page: slider + play button
    write_evolution_gif(snaps, "evolution.gif")     # the same frames for a README (matplotlib)

By default the words' unit vectors are drawn (their directions: what the cosine sees; early
vectors are tiny and would otherwise sit in one dot). The basis is the two principal directions
of the *last* snapshot's (unit) vectors, centred on their mean; every frame is projected on that same basis, so positions are comparable across frames and
a word moving on the page is the word moving in the space (a PCA per frame would rotate and flip).
Beside the scatter: the cosine similarity of each chosen pair over training, with the current
frame marked. The HTML page embeds its data and script: it loads nothing from the network.
"""
import html
import json

import numpy as np

__all__ = ["fixed_pca", "evolution_frames", "write_evolution_html", "write_evolution_gif"]


def fixed_pca(vectors, basis_frame=-1):
    """Project every frame of `vectors` (T, n, d) on the first two principal directions of frame
    `basis_frame` (default the last). Returns (coords (T, n, 2), explained variance ratio (2,))."""
    v = np.asarray(vectors, np.float64)
    if v.ndim != 3 or v.shape[0] < 1 or v.shape[1] < 2:
        raise ValueError(f"fixed_pca: expected vectors of shape (frames, words >= 2, dim), got {v.shape}")
    ref = v[basis_frame]
    mean = ref.mean(0)
    _, sv, vt = np.linalg.svd(ref - mean, full_matrices=False)
    basis = vt[:2].T                                     # (d, 2)
    if basis.shape[1] < 2:
        basis = np.pad(basis, ((0, 0), (0, 2 - basis.shape[1])))
    var = sv ** 2
    ratio = var[:2] / max(var.sum(), 1e-30)
    return (v - mean) @ basis, np.pad(ratio, (0, 2 - ratio.shape[0]))


def _data(snaps, unit=True):
    if not snaps.steps:
        raise ValueError("embedding evolution: the snapshots are empty (train with snapshots=... first)")
    v = np.asarray(snaps.vectors, np.float64)
    if unit:  # directions only: what the cosine sees (early vectors are tiny and would sit in a dot)
        v = v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-30)
    coords, ratio = fixed_pca(v)
    return coords, ratio, np.asarray(snaps.cosines, np.float64), np.asarray(snaps.progress, np.float64)


def evolution_frames(snaps, unit=True):
    """Plain data of the animation: {'words', 'pairs', 'progress' (T,), 'coords' (T, n, 2) list,
    'cosines' (T, n_pairs) list, 'explained' (2,)}. unit: project the unit vectors (directions)."""
    coords, ratio, cos, prog = _data(snaps, unit)
    return {"words": list(snaps.words), "pairs": [list(p) for p in snaps.pairs], "progress": prog.tolist(),
            "coords": np.round(coords, 5).tolist(), "cosines": np.round(cos, 5).tolist(),
            "explained": np.round(ratio, 4).tolist()}


_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>__TITLE__</title>
<style>
body{font-family:sans-serif;margin:16px;color:#222} .row{display:flex;gap:24px;flex-wrap:wrap}
svg{background:#fafafa;border:1px solid #ddd} .ctl{margin:10px 0} .lbl{font-size:12px}
</style></head><body>
<h2>__TITLE__</h2>
<p>Chosen words' directions (unit vectors, what the cosine sees) projected on a fixed PCA basis (the final
directions' two principal axes, __EXPLAINED__ of their variance), and the cosine similarity of chosen pairs,
over training.</p>
<div class="ctl"><button id="play">play</button>
<input id="frame" type="range" min="0" max="__LAST__" value="__LAST__" step="1" style="width:420px">
<span id="info"></span></div>
<div class="row"><svg id="pca" width="460" height="460"></svg><svg id="cos" width="460" height="460"></svg></div>
<script>
const D = __DATA__;
const NS = "http:" + "//www.w3.org/2000/svg";
const colors = ["#1f77b4","#d62728","#2ca02c","#9467bd","#ff7f0e","#8c564b","#e377c2","#7f7f7f","#bcbd22","#17becf"];
function el(tag, attrs, parent, text){const e=document.createElementNS(NS,tag);for(const k in attrs)e.setAttribute(k,attrs[k]);
  if(text!==undefined)e.textContent=text;parent.appendChild(e);return e;}
let xs=[],ys=[];D.coords.forEach(f=>f.forEach(p=>{xs.push(p[0]);ys.push(p[1]);}));
const pad=0.08, x0=Math.min(...xs), x1=Math.max(...xs), y0=Math.min(...ys), y1=Math.max(...ys);
const sx=v=>30+400*(v-x0)/((x1-x0)||1), sy=v=>430-400*(v-y0)/((y1-y0)||1);
const pca=document.getElementById("pca"), cos=document.getElementById("cos");
function drawPCA(t){pca.innerHTML="";
  el("text",{x:10,y:18,class:"lbl"},pca,"PCA (fixed basis), "+Math.round(100*D.progress[t])+"% of training");
  D.pairs.forEach((p,j)=>{const a=D.coords[t][D.words.indexOf(p[0])],b=D.coords[t][D.words.indexOf(p[1])];
    el("line",{x1:sx(a[0]),y1:sy(a[1]),x2:sx(b[0]),y2:sy(b[1]),stroke:colors[j%10],"stroke-opacity":0.35},pca);});
  D.words.forEach((w,i)=>{const p=D.coords[t][i];el("circle",{cx:sx(p[0]),cy:sy(p[1]),r:4,fill:"#333"},pca);
    el("text",{x:sx(p[0])+6,y:sy(p[1])-4,class:"lbl"},pca,w);});}
function drawCos(t){cos.innerHTML="";
  const cx=v=>40+400*v, cy=v=>420-380*(v+1)/2;
  el("text",{x:10,y:18,class:"lbl"},cos,"cosine similarity of chosen pairs");
  [-1,-0.5,0,0.5,1].forEach(v=>{el("line",{x1:40,x2:440,y1:cy(v),y2:cy(v),stroke:"#ddd"},cos);
    el("text",{x:8,y:cy(v)+4,class:"lbl"},cos,v.toFixed(1));});
  D.pairs.forEach((p,j)=>{const pts=D.progress.map((g,k)=>cx(g)+","+cy(D.cosines[k][j])).join(" ");
    el("polyline",{points:pts,fill:"none",stroke:colors[j%10],"stroke-width":2},cos);
    el("text",{x:300,y:40+16*j,class:"lbl",fill:colors[j%10]},cos,p[0]+" / "+p[1]+": "+D.cosines[t][j].toFixed(3));});
  el("line",{x1:cx(D.progress[t]),x2:cx(D.progress[t]),y1:cy(1),y2:cy(-1),stroke:"#000","stroke-dasharray":"3,3"},cos);
  el("text",{x:200,y:450,class:"lbl"},cos,"fraction of training");}
const slider=document.getElementById("frame"), info=document.getElementById("info");
function show(t){drawPCA(t);drawCos(t);info.textContent="frame "+(t+1)+" / "+D.progress.length;}
slider.addEventListener("input",()=>show(+slider.value));
let timer=null;document.getElementById("play").addEventListener("click",()=>{
  if(timer){clearInterval(timer);timer=null;return;}
  if(+slider.value>=D.progress.length-1)slider.value=0;
  timer=setInterval(()=>{if(+slider.value>=D.progress.length-1){clearInterval(timer);timer=null;return;}
    slider.value=+slider.value+1;show(+slider.value);},150);});
show(D.progress.length-1);
</script></body></html>
"""


def write_evolution_html(snaps, path, title="Word vectors during training", unit=True):
    """Write the self-contained animation page (slider over frames, play button) to `path`."""
    data = evolution_frames(snaps, unit)
    page = (_PAGE.replace("__TITLE__", html.escape(title))
            .replace("__EXPLAINED__", f"{100 * sum(data['explained']):.0f}%")
            .replace("__LAST__", str(len(data["progress"]) - 1))
            .replace("__DATA__", json.dumps(data).replace("</", "<\\/")))
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
    return path


def write_evolution_gif(snaps, path, fps=6, max_frames=40, dpi=70, unit=True):
    """Write the frames (at most `max_frames`, evenly chosen) as an animated GIF with matplotlib
    (PillowWriter): the fixed-basis PCA beside the pairs' cosine curves."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation, PillowWriter

    coords, ratio, cos, prog = _data(snaps, unit)
    T = coords.shape[0]
    frames = np.unique(np.linspace(0, T - 1, min(T, max_frames)).round().astype(int))
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(9, 4.2))
    lo, hi = coords.reshape(-1, 2).min(0), coords.reshape(-1, 2).max(0)
    span = np.maximum(hi - lo, 1e-9)
    for j, (a, b) in enumerate(snaps.pairs):
        bx.plot(prog, cos[:, j], label=f"{a} / {b}")
    bx.set_ylim(min(-0.05, float(np.nanmin(cos)) - 0.05) if cos.size else -1, 1.02)
    bx.set_xlim(0, 1)
    bx.set_xlabel("fraction of training")
    bx.set_ylabel("cosine similarity")
    bx.legend(fontsize=7, loc="lower left")
    marker = bx.axvline(0, color="k", ls="--", lw=0.8)
    fig.tight_layout()

    def draw(t):
        ax.clear()
        ax.set_xlim(lo[0] - 0.1 * span[0], hi[0] + 0.15 * span[0])
        ax.set_ylim(lo[1] - 0.1 * span[1], hi[1] + 0.1 * span[1])
        ax.set_title(f"directions, PCA on a fixed basis ({100 * ratio.sum():.0f}% var.): {100 * prog[t]:.0f}% trained",
                     fontsize=9)
        ax.scatter(coords[t, :, 0], coords[t, :, 1], s=14, c="k")
        for i, w in enumerate(snaps.words):
            ax.annotate(w, coords[t, i], fontsize=8, xytext=(3, 3), textcoords="offset points")
        marker.set_xdata([prog[t], prog[t]])
        return []

    anim = FuncAnimation(fig, draw, frames=frames, blit=False)
    anim.save(path, writer=PillowWriter(fps=fps), dpi=dpi)
    plt.close(fig)
    return path

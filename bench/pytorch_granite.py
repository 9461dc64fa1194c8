#!/usr/bin/env python3
"""The GRANITE model in PyTorch, for measuring granite beside it (issue 12).

Reads the graphs `granite bench --dump-graphs FILE.jsonl` writes (one block a
line: node_tokens, edge_types, senders, receivers, instruction_node_mask,
throughput) and measures, for the `default` and `256` configurations of
`granite bench` (src/cli/cmd_bench.c; docs: shared granite-spec §4, §4.8):

  train    randomized batches of --train-batch blocks (100), forward +
           MAPE-style loss + backward + Adam step, in blocks/s;
  predict  torch.no_grad() forward over the blocks in file order, batches of
           100 and of 1000 blocks, in blocks/s;

for each thread count (torch.set_num_threads; the OpenBLAS under Debian's
torch is the OpenMP build, so that also sets the BLAS threads). Every
measurement runs --seconds seconds after --warmup steps; --repeat goes round
all measurements (A B A B ...) and keeps the fastest of each. Batch assembly
(gathering the blocks' arrays, renumbering nodes) is timed as granite's is.

The model follows granite's layer shapes exactly (widths, K = 8 iterations,
one linear layer per update function in `default`, 256-hidden two-layer MLPs
with a leaky ReLU in `256`, 3K LayerNorms with eps 1e-3, LN_ro -> LN_tro ->
task layers -> Dense(1) without bias) and is tuned as granite is: the first
layer of each update MLP is split by input segment (the node and global terms
are projected once per node / block and gathered per edge), the first
iteration projects the embedding tables instead of the per-edge rows, the
global encoder is an EmbeddingBag sum (= the histogram matmul), segment sums
are index_add_. --unsplit uses the plain concatenation instead.

Usage: pytorch_granite.py GRAPHS.jsonl [--vocab-size V] [--configs default,256]
       [--threads 1,2] [--seconds 3] [--repeat 3] [--json FILE|-] [--params-only]
"""
import argparse
import json
import os
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import numpy as np
except ImportError as e:  # one clear line, not a traceback
    sys.stderr.write("pytorch_granite.py: PyTorch (and NumPy) are needed: %s "
                     "(Debian: apt-get install python3-torch, then run it with /usr/bin/python3)\n" % e)
    sys.exit(3)

NUM_EDGE_TYPES = 9  # GEMATRIA_NUM_EDGE_TYPES (src/graph/graph.h)
EPS = 1e-3          # Keras LayerNormalization (spec §4.4)
SLOPE = 0.1         # leaky ReLU (spec §4.1)


# --------------------------------------------------------------------------- data
class Graphs:
    """All blocks as flat arrays with per-block offsets."""

    def __init__(self, path, limit=0):
        tok, et, snd, rcv, lab, nn_, ne = [], [], [], [], [], [], []
        with open(path) as f:
            for line in f:
                if limit and len(nn_) >= limit:
                    break
                g = json.loads(line)
                y = g["throughput"][0]
                if y is None:
                    continue
                tok.append(g["node_tokens"])
                et.append(g["edge_types"])
                snd.append(g["senders"])
                rcv.append(g["receivers"])
                lab.append(y)
                nn_.append(len(g["node_tokens"]))
                ne.append(len(g["edge_types"]))
        if not nn_:
            raise SystemExit("pytorch_granite.py: %s: no block with a label" % path)
        cat = lambda xs: np.fromiter((v for x in xs for v in x), dtype=np.int64)
        self.tokens, self.edge_types = cat(tok), cat(et)
        self.senders, self.receivers = cat(snd), cat(rcv)
        self.labels = np.asarray(lab, dtype=np.float32)
        self.n_nodes = np.asarray(nn_, dtype=np.int64)
        self.n_edges = np.asarray(ne, dtype=np.int64)
        self.node_off = np.concatenate([[0], np.cumsum(self.n_nodes)])
        self.edge_off = np.concatenate([[0], np.cumsum(self.n_edges)])
        self.num_blocks = len(nn_)

    def batch(self, ids):
        """The batch of blocks ids, as torch tensors (nodes renumbered)."""
        nn_, ne = self.n_nodes[ids], self.n_edges[ids]
        node_idx = _ranges(self.node_off[ids], nn_)
        edge_idx = _ranges(self.edge_off[ids], ne)
        base = np.repeat(np.cumsum(nn_) - nn_, ne)
        B = len(ids)
        node_block = np.repeat(np.arange(B), nn_)
        return dict(
            B=B,
            tokens=torch.from_numpy(self.tokens[node_idx]),
            edge_types=torch.from_numpy(self.edge_types[edge_idx]),
            senders=torch.from_numpy(self.senders[edge_idx] + base),
            receivers=torch.from_numpy(self.receivers[edge_idx] + base),
            node_block=torch.from_numpy(node_block),
            edge_block=torch.from_numpy(np.repeat(np.arange(B), ne)),
            node_offsets=torch.from_numpy(np.cumsum(nn_) - nn_),
            labels=torch.from_numpy(self.labels[ids]),
            nodes=int(nn_.sum()), edges=int(ne.sum()))


def _ranges(starts, counts):
    """concat(arange(s, s + c) for s, c in zip(starts, counts))"""
    total = int(counts.sum())
    shift = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    return np.arange(total, dtype=np.int64) + shift


# --------------------------------------------------------------------------- model
def config(name, vocab_size):
    """granite bench's configurations (src/cli/cmd_bench.c config_default / config_256)."""
    if name == "default":
        return dict(name=name, V=vocab_size, N=128, E=128, G=128, hidden=[], task_layers=[], K=8)
    if name == "256":
        return dict(name=name, V=vocab_size, N=256, E=256, G=256, hidden=[256], task_layers=[256], K=8)
    raise SystemExit("pytorch_granite.py: unknown configuration %r (default, 256)" % name)


def mlp(d_in, hidden, d_out):
    """Sonnet MLP: linear layers, leaky ReLU between them, none after the last."""
    sizes = [d_in] + list(hidden) + [d_out]
    return nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))


def run_rest(layers, z):
    """The MLP after its first layer's pre-activation z."""
    for lin in layers[1:]:
        z = lin(F.leaky_relu(z, SLOPE))
    return z


def glorot_normal_(t):
    fan_in, fan_out = (t.shape[1], t.shape[0]) if t.dim() == 2 else (t.shape[0], t.shape[0])
    std = (2.0 / (fan_in + fan_out)) ** 0.5 / 0.87962566103423978
    with torch.no_grad():
        nn.init.trunc_normal_(t, 0.0, std, -2 * std, 2 * std)


class Granite(nn.Module):
    def __init__(self, c, split=True):
        super().__init__()
        V, N, E, G, K = c["V"], c["N"], c["E"], c["G"], c["K"]
        self.c, self.split = c, split
        # encoder (spec §4.2)
        self.node_emb = nn.Embedding(V, N)
        self.edge_emb = nn.Embedding(NUM_EDGE_TYPES, E)
        self.global_w = nn.EmbeddingBag(V, G, mode="sum")  # histogram . W_g
        self.global_b = nn.Parameter(torch.zeros(G))
        # core (spec §4.3): one set of weights applied K times
        self.edge_mlp = mlp(E + 2 * N + G, c["hidden"], E)
        self.node_mlp = mlp(E + N + G, c["hidden"], N)
        self.global_mlp = mlp(E + N + G, c["hidden"], G)
        self.ln = nn.ModuleList(nn.LayerNorm(d, eps=EPS) for _ in range(K) for d in (E, N, G))
        # readout (spec §4.5 with granite's bench configs: no shared readout layers)
        self.ln_ro = nn.LayerNorm(G, eps=EPS)
        self.ln_tro = nn.LayerNorm(G, eps=EPS)
        w = G
        self.task = nn.ModuleList()
        for s in c["task_layers"]:
            self.task.append(nn.Linear(w, s))
            w = s
        self.out = nn.Linear(w, 1, bias=False)
        for p in self.parameters():
            if p.dim() == 2:
                glorot_normal_(p)

    def forward(self, b):
        c = self.c
        N, E, G = c["N"], c["E"], c["G"]
        tok, et, snd, rcv = b["tokens"], b["edge_types"], b["senders"], b["receivers"]
        nb, eb, B, n = b["node_block"], b["edge_block"], b["B"], b["nodes"]
        u = self.global_w(tok, b["node_offsets"]) + self.global_b
        e = v = None  # iteration 0 works on the tables
        We, be = self.edge_mlp[0].weight, self.edge_mlp[0].bias  # [out, E + N + N + G]
        Wn, bn = self.node_mlp[0].weight, self.node_mlp[0].bias  # [out, E + N + G]
        oe, on = We.shape[0], Wn.shape[0]
        if self.split:
            # first layers split by input segment: x.W = sum of the segments' terms;
            # the node terms (receiver, sender, node MLP) in one matmul, the global ones in another
            Wv = torch.cat([We[:, E:E + N], We[:, E + N:E + 2 * N], Wn[:, E:E + N]], 0).t()
            Wu = torch.cat([We[:, E + 2 * N:], Wn[:, E + N:]], 0).t()
            bu = torch.cat([be, bn])
            Wee, Wnr = We[:, :E].t(), Wn[:, :E].t()
        for t in range(c["K"]):
            if self.split:
                if t == 0:  # the embeddings' terms: project the tables, gather by token / type
                    pe = (self.edge_emb.weight @ Wee)[et]
                    pv_r, pv_s, pv_n = (self.node_emb.weight @ Wv)[tok].split([oe, oe, on], 1)
                else:
                    pe = e @ Wee
                    pv_r, pv_s, pv_n = (v @ Wv).split([oe, oe, on], 1)
                pu_e, pu_n = torch.addmm(bu, u, Wu).split([oe, on], 1)
                z = pe + pv_r[rcv] + pv_s[snd] + pu_e[eb]
                e_new = run_rest(self.edge_mlp, z)
                rho = torch.zeros(n, E, dtype=e_new.dtype).index_add_(0, rcv, e_new)
                z = torch.addmm(pv_n + pu_n[nb], rho, Wnr)
                v_new = run_rest(self.node_mlp, z)
            else:
                if t == 0:
                    e, v = self.edge_emb(et), self.node_emb(tok)
                x = torch.cat([e, v[rcv], v[snd], u[eb]], 1)
                e_new = run_rest(self.edge_mlp, F.linear(x, We, be))
                rho = torch.zeros(n, E, dtype=e_new.dtype).index_add_(0, rcv, e_new)
                x = torch.cat([rho, v, u[nb]], 1)
                v_new = run_rest(self.node_mlp, F.linear(x, Wn, bn))
            se = torch.zeros(B, E, dtype=e_new.dtype).index_add_(0, eb, e_new)
            sv = torch.zeros(B, N, dtype=v_new.dtype).index_add_(0, nb, v_new)
            g = self.global_mlp
            u_new = run_rest(g, g[0](torch.cat([se, sv, u], 1)))
            ln_e, ln_v, ln_u = self.ln[3 * t], self.ln[3 * t + 1], self.ln[3 * t + 2]
            e, v, u = ln_e(e_new), ln_v(v_new), ln_u(u_new)
        x = self.ln_tro(self.ln_ro(u))
        for lin in self.task:
            x = F.leaky_relu(lin(x), SLOPE)
        return self.out(x).squeeze(1)


def num_params(model):
    return sum(p.numel() for p in model.parameters())


def spec_param_count(c):
    """spec §4.7 for granite's bench configs (src/train/flops.c flops_reference_param_count)."""
    V, N, E, G, K, h = c["V"], c["N"], c["E"], c["G"], c["K"], c["hidden"]

    def mlp_p(d, sizes):
        p = 0
        for s in sizes:
            p, d = p + d * s + s, s
        return p
    p = V * N + NUM_EDGE_TYPES * E + V * G + G
    p += mlp_p(E + 2 * N + G, h + [E]) + mlp_p(E + N + G, h + [N]) + mlp_p(E + N + G, h + [G])
    p += 2 * K * (E + N + G) + 2 * G + 2 * G
    w = G
    for s in c["task_layers"]:
        p, w = p + w * s + s, s
    return p + w


# --------------------------------------------------------------------------- measurement
def timed_steps(step_fn, seconds, warmup, min_steps):
    """Runs step_fn() (returns the blocks it did) until `seconds` of timed
    steps after `warmup` untimed ones, and at least min_steps timed."""
    steps = blocks = 0
    elapsed = cpu = 0.0
    for step in range(10 ** 9):
        t0, c0 = time.perf_counter(), time.process_time()
        n = step_fn()
        t1 = time.perf_counter()
        if step >= warmup:
            steps, blocks, elapsed = steps + 1, blocks + n, elapsed + (t1 - t0)
            cpu += time.process_time() - c0
            if elapsed >= seconds and steps >= min_steps:
                break
    return dict(blocks_per_s=blocks / elapsed, blocks_per_cpu_s=blocks / max(cpu, 1e-9), steps=steps,
                seconds=elapsed)


def measure_train(model, data, batch, seconds, warmup, seed):
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    model.train()
    last = {}

    def step():
        b = data.batch(rng.choice(data.num_blocks, size=min(batch, data.num_blocks), replace=False))
        pred = model(b)
        y = b["labels"]
        loss = ((pred - y).abs() / y.clamp_min(1e-3)).mean()  # MAPE-style
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        last["loss"] = loss
        return b["B"]

    result = timed_steps(step, seconds, warmup, 3)
    result["loss"] = float(last["loss"])
    return result


def measure_predict(model, data, batch, seconds, warmup):
    model.eval()
    state = {"start": 0}

    def step():
        start = state["start"]
        ids = np.arange(start, min(start + batch, data.num_blocks))
        state["start"] = 0 if start + batch >= data.num_blocks else start + batch
        b = data.batch(ids)
        state["pred"] = model(b)
        return b["B"]

    with torch.no_grad():
        result = timed_steps(step, seconds, warmup, 2)
    assert torch.isfinite(state["pred"]).all()
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("graphs", help="JSONL from granite bench --dump-graphs")
    ap.add_argument("--vocab-size", type=int, default=0,
                    help="V (granite bench --dump-graphs prints it); default: largest token + 1")
    ap.add_argument("--configs", default="default,256")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--phases", default="train,predict100,predict1000")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--train-batch", type=int, default=100)
    ap.add_argument("--limit", type=int, default=0, help="read only the first N blocks")
    ap.add_argument("--seed", type=int, default=123456789)
    ap.add_argument("--unsplit", action="store_true", help="plain concatenated first layers (no split)")
    ap.add_argument("--params-only", action="store_true", help="print the parameter counts and exit")
    ap.add_argument("--json", help="also write the results as JSON to FILE ('-': stdout)")
    a = ap.parse_args()

    t0 = time.perf_counter()
    data = Graphs(a.graphs, a.limit)
    V = a.vocab_size or int(data.tokens.max()) + 1
    if data.tokens.max() >= V:
        raise SystemExit("pytorch_granite.py: token %d >= --vocab-size %d" % (data.tokens.max(), V))
    out = sys.stderr if a.json == "-" else sys.stdout
    torch.manual_seed(a.seed)
    cfgs = [config(n, V) for n in a.configs.split(",")]
    models = {c["name"]: Granite(c, split=not a.unsplit) for c in cfgs}
    for c in cfgs:
        p, s = num_params(models[c["name"]]), spec_param_count(c)
        print("params %s: %d (spec §4.7: %d%s)" % (c["name"], p, s, "" if p == s else ", MISMATCH"), file=out)
    if a.params_only:
        if a.json:
            res = {c["name"]: num_params(models[c["name"]]) for c in cfgs}
            print(json.dumps({"vocab_size": V, "num_params": res}), file=sys.stdout if a.json == "-" else open(a.json, "w"))
        return
    threads = [int(x) for x in a.threads.split(",")]
    phases = a.phases.split(",")
    print("data: %s, %d blocks, %.2f nodes and %.2f edges per block, vocabulary %d; read in %.1f s" %
          (a.graphs, data.num_blocks, data.n_nodes.mean(), data.n_edges.mean(), V, time.perf_counter() - t0), file=out)
    print("torch %s, %d interop thread(s); first layers %s" % (torch.__version__, torch.get_num_interop_threads(),
          "unsplit" if a.unsplit else "split"), file=out)
    best = {}
    for rep in range(a.repeat):
        for c in cfgs:
            for th in threads:
                torch.set_num_threads(th)
                for ph in phases:
                    torch.manual_seed(a.seed)
                    model = Granite(c, split=not a.unsplit)  # fresh parameters per measurement
                    if ph == "train":
                        r = measure_train(model, data, a.train_batch, a.seconds, a.warmup, a.seed + rep)
                    else:
                        r = measure_predict(model, data, int(ph[len("predict"):]), a.seconds, a.warmup)
                    key = (c["name"], th, ph)
                    if key not in best or r["blocks_per_s"] > best[key]["blocks_per_s"]:
                        best[key] = r
    print("\n%-8s %7s  %-12s %10s %12s" % ("config", "threads", "phase", "blocks/s", "blocks/cpu-s"), file=out)
    for (cn, th, ph), r in best.items():
        print("%-8s %7d  %-12s %10.0f %12.0f" % (cn, th, ph, r["blocks_per_s"], r["blocks_per_cpu_s"]), file=out)
    print("best of %d; train: %d-block random batches, forward + MAPE + backward + Adam; predict<N>: "
          "no_grad, N-block batches in file order; blocks/cpu-s per CPU-second of the process (all threads)" % (a.repeat, a.train_batch), file=out)
    if a.json:
        doc = {"torch": torch.__version__, "config_show": torch.__config__.show(),
               "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"), "vocab_size": V,
               "num_blocks": data.num_blocks, "repeat": a.repeat, "seconds": a.seconds, "split": not a.unsplit,
               "num_params": {c["name"]: num_params(models[c["name"]]) for c in cfgs},
               "results": [dict(config=cn, threads=th, phase=ph, **r) for (cn, th, ph), r in best.items()]}
        f = sys.stdout if a.json == "-" else open(a.json, "w")
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()

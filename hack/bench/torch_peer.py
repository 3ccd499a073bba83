#!/usr/bin/python3
"""PyTorch peer of the trainer (hack/bench/peer, make bench-peer).

The same models as trainer/model (LR; Wide&Deep: the LR part plus an MLP
over five mean-pooled 8-wide embedded fields), the same dataset, initial
weights and loops, read from the directory `peer export` wrote:

  torch_peer.py run DIR OUT.json       per-user fine-tuning (SGD, batch 32,
                                       one epoch per user) and training steps
  torch_peer.py check DIR GO.json      loss and gradients of the check batch
                                       against the Go side's, within 1e-4

One thread: torch.set_num_threads(1) here, OPENBLAS_NUM_THREADS=1 from
hack/bench-peer.sh. Embeddings use sparse gradients (what PyTorch offers for
large tables); batches are sliced into tensors before the clock starts, and
each user's touched rows are listed before it too, so the timed loops are
the model's work and the per-user restore of the rows and dense layers.
"""
import json
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
torch.set_num_interop_threads(1)

TOLERANCE = 1e-4


def read_data(path):
    b = open(path, "rb").read()
    if b[:8] != b"LCFTPEER":
        sys.exit(f"{path}: not a peer dataset")
    hdr = [int(v) for v in np.frombuffer(b, "<u4", 10, 8)]
    if hdr[0] != 1:
        sys.exit(f"{path}: dataset version {hdr[0]}, want 1")
    n, users, ncat, npos, nneg = hdr[5:10]
    off = 8 + 4 * len(hdr)

    def take(dtype, count):
        nonlocal off
        a = np.frombuffer(b, dtype, count, off)
        off += 4 * count
        return torch.from_numpy(a.astype(np.int64 if dtype == "<i4" else np.float32))

    d = {}
    d["user"], d["item"], d["label"] = take("<i4", n), take("<i4", n), take("<f4", n)
    d["cat_off"], d["cat"] = take("<i4", n + 1), take("<i4", ncat)
    d["pos_off"], d["pos"] = take("<i4", n + 1), take("<i4", npos)
    d["neg_off"], d["neg"] = take("<i4", n + 1), take("<i4", nneg)
    d["user_off"] = take("<i4", users + 1)
    d["n"] = n
    return d


def read_artifact(path):
    """The parameters of a trainer/model artifact (format 1 or 2, no vocabulary)."""
    b = open(path, "rb").read()
    if b[:8] != b"LCFTMDL\x00":
        sys.exit(f"{path}: not a model artifact")
    hlen = int(np.frombuffer(b, "<u4", 1, 12)[0])
    h = json.loads(b[16:16 + hlen])
    if h.get("vocabulary"):
        sys.exit(f"{path}: artifacts with a vocabulary are not supported here")
    off, params = 16 + hlen, {}
    for p in h["params"]:
        rows, cols = p["shape"]
        params[p["name"]] = np.frombuffer(b, "<f4", rows * cols, off).reshape(rows, cols).copy()
        off += 4 * rows * cols
    if off != len(b):
        sys.exit(f"{path}: {len(b) - off} trailing bytes")
    return h["config"]["arch"], params


def bag(ids, weight, offsets):
    return F.embedding_bag(ids, weight, offsets, mode="mean", sparse=True)


class Net(torch.nn.Module):
    """LR (deep=False) or Wide&Deep, as trainer/model's package documentation
    describes them; parameters named and laid out as in the artifact, except
    MLP weights, which nn.Linear keeps transposed (out x in)."""

    def __init__(self, arch, P):
        super().__init__()
        t = lambda a: torch.nn.Parameter(torch.tensor(a))  # a copy: nets must not share weights
        self.deep = arch == "WideDeep"
        if arch not in ("LR", "WideDeep"):
            sys.exit(f"architecture {arch} is not in the peer")
        self.bias = t(P["linear.bias"].reshape(1))
        self.lu, self.li, self.lc = t(P["linear.user"]), t(P["linear.item"]), t(P["linear.category"])
        self.lp, self.ln = t(P["linear.posHistory"]), t(P["linear.negHistory"])
        self.go = {"linear.bias": self.bias, "linear.user": self.lu, "linear.item": self.li,
                   "linear.category": self.lc, "linear.posHistory": self.lp, "linear.negHistory": self.ln}
        self.layers = torch.nn.ModuleList()
        if self.deep:
            self.eu, self.ei, self.ec = t(P["embed.user"]), t(P["embed.item"]), t(P["embed.category"])
            self.go.update({"embed.user": self.eu, "embed.item": self.ei, "embed.category": self.ec})
            l = 0
            while f"mlp.{l}.weight" in P:
                w = P[f"mlp.{l}.weight"]
                has_bias = f"mlp.{l}.bias" in P
                lin = torch.nn.Linear(w.shape[0], w.shape[1], bias=has_bias)
                with torch.no_grad():
                    lin.weight.copy_(torch.from_numpy(w.T.copy()))
                    if has_bias:
                        lin.bias.copy_(torch.from_numpy(P[f"mlp.{l}.bias"].reshape(-1)))
                self.layers.append(lin)
                self.go[f"mlp.{l}.weight"] = lin.weight
                if has_bias:
                    self.go[f"mlp.{l}.bias"] = lin.bias
                l += 1
        missing = set(P) - set(self.go)
        if missing:
            sys.exit(f"{arch}: parameters not in the peer: {sorted(missing)}")

    def forward(self, b):
        u, i, cat, coff, pos, poff, neg, noff = b
        z = (self.bias + F.embedding(u, self.lu, sparse=True) + F.embedding(i, self.li, sparse=True)
             + bag(cat, self.lc, coff) + bag(pos, self.lp, poff) + bag(neg, self.ln, noff))
        if self.deep:
            h = torch.cat([F.embedding(u, self.eu, sparse=True), F.embedding(i, self.ei, sparse=True),
                           bag(cat, self.ec, coff), bag(pos, self.ei, poff), bag(neg, self.ei, noff)], 1)
            for k, lin in enumerate(self.layers):
                h = lin(h)
                if k + 1 < len(self.layers):
                    h = torch.relu(h)
            z = z + h
        return z.squeeze(1)

    def touched(self, b):
        """The rows of each table a batch (or a user's batches) reads."""
        u, i, cat, _, pos, _, neg, _ = b
        rows = {"linear.user": u, "linear.item": i, "linear.category": cat,
                "linear.posHistory": pos, "linear.negHistory": neg}
        if self.deep:
            rows.update({"embed.user": u, "embed.item": torch.cat([i, pos, neg]), "embed.category": cat})
        return {k: torch.unique(v) for k, v in rows.items()}


def batch_range(d, lo, hi):
    sl = lambda name: d[name][d[name + "_off"][lo]:d[name + "_off"][hi]]
    rel = lambda name: d[name + "_off"][lo:hi] - d[name + "_off"][lo]
    b = (d["user"][lo:hi], d["item"][lo:hi], sl("cat"), rel("cat"), sl("pos"), rel("pos"), sl("neg"), rel("neg"))
    return b, d["label"][lo:hi]


def batch_indices(d, idx):
    parts = []
    for name in ("cat", "pos", "neg"):
        lists = [d[name][d[name + "_off"][i]:d[name + "_off"][i + 1]] for i in idx]
        lens = torch.tensor([0] + [len(x) for x in lists[:-1]])
        parts += [torch.cat(lists), torch.cumsum(lens, 0)]
    t = torch.tensor(idx)
    return (d["user"][t], d["item"][t], *parts), d["label"][t]


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def step(net, opt, b, y):
    opt.zero_grad(set_to_none=True)
    loss = F.binary_cross_entropy_with_logits(net(b), y)
    loss.backward()
    opt.step()
    return loss.item()


def finetune_users(arch, P, d, m):
    """Per-user fine-tuning: restore the user's rows and the dense layers
    from the initial weights, one epoch over the user's samples in order."""
    net = Net(arch, P)
    base = {k: p.detach().clone() for k, p in net.go.items()}
    tables = {k for k, p in P.items() if k.startswith(("embed.", "linear.")) and k != "linear.bias"}
    dense = [(net.go[k], base[k]) for k in net.go if k not in tables]
    opt = torch.optim.SGD(net.parameters(), lr=m["learningRate"])
    bs, uo = m["batchSize"], d["user_off"].tolist()
    users = []
    for k in range(len(uo) - 1):
        batches = [batch_range(d, lo, min(lo + bs, uo[k + 1])) for lo in range(uo[k], uo[k + 1], bs)]
        whole, _ = batch_range(d, uo[k], uo[k + 1])
        rows = [(net.go[t], base[t], r) for t, r in net.touched(whole).items()]
        users.append((batches, rows))

    def tune(batches, rows):
        with torch.no_grad():
            for p, b0, r in rows:
                p.index_copy_(0, r, b0.index_select(0, r))
            for p, b0 in dense:
                p.copy_(b0)
        return sum(step(net, opt, b, y) for b, y in batches)

    for batches, rows in users[:m["warmupUsers"]]:
        tune(batches, rows)
    w0, c0 = time.perf_counter(), cpu_seconds()
    loss = sum(tune(batches, rows) for batches, rows in users)
    return {"users": len(users), "samples": d["n"], "wall": time.perf_counter() - w0,
            "cpu": cpu_seconds() - c0, "loss": loss}


def train_steps(P, d, m, s):
    net = Net("WideDeep", P)
    opt = torch.optim.SGD(net.parameters(), lr=m["learningRate"])
    bs = s["batch"]
    whole = d["n"] // bs
    batches = [batch_range(d, (k % whole) * bs, (k % whole) * bs + bs) for k in range(s["warmup"] + s["steps"])]
    for b, y in batches[:s["warmup"]]:
        step(net, opt, b, y)
    w0, c0 = time.perf_counter(), cpu_seconds()
    loss = sum(step(net, opt, b, y) for b, y in batches[s["warmup"]:])
    return {"samples": s["steps"] * bs, "wall": time.perf_counter() - w0, "cpu": cpu_seconds() - c0, "loss": loss}


def blas_library():
    libs = {os.path.realpath(line.split()[-1]) for line in open("/proc/self/maps") if "libblas" in line}
    return ", ".join(sorted(libs)) or "none loaded"


def load(dirname):
    m = json.load(open(os.path.join(dirname, "manifest.json")))
    d = read_data(os.path.join(dirname, m["data"]))
    models = {a: read_artifact(os.path.join(dirname, f))[1] for a, f in m["models"].items()}
    return m, d, models


def cmd_run(dirname, out):
    m, d, models = load(dirname)
    res = {"side": "torch", "threads": torch.get_num_threads(), "finetune": {}, "step": {}}
    for arch in ("WideDeep", "LR"):
        res["finetune"][arch] = finetune_users(arch, models[arch], d, m)
    for s in m["steps"]:
        res["step"][str(s["batch"])] = train_steps(models["WideDeep"], d, m, s)
    res["peakRSS"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    res["version"] = f"{torch.__version__} (BLAS {blas_library()}, OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')})"
    json.dump(res, open(out, "w"), indent=1)


def cmd_check(dirname, go_path):
    m, d, models = load(dirname)
    g = json.load(open(go_path))
    b, y = batch_indices(d, g["indices"])
    worst, ok = 0.0, True
    for arch, gm in sorted(g["models"].items()):
        net = Net(arch, models[arch])
        loss = F.binary_cross_entropy_with_logits(net(b), y)
        loss.backward()
        diffs = {"loss": abs(loss.item() - gm["loss"])}
        for name, tg in gm["tables"].items():
            grad = net.go[name].grad
            grad = grad.to_dense() if grad is not None and grad.is_sparse else grad
            if grad is None:
                grad = torch.zeros_like(net.go[name])
            rows = torch.tensor(tg["rows"], dtype=torch.int64)
            want = torch.tensor(tg["values"], dtype=torch.float32).reshape(len(tg["rows"]), tg["dim"])
            diff = (grad.index_select(0, rows) - want).abs().max().item() if len(rows) else 0.0
            rest = grad.clone()
            rest[rows] = 0  # rows the Go side did not touch must have no gradient
            diffs[name] = max(diff, rest.abs().max().item())
        for name, v in gm["dense"].items():
            p = net.go[name]
            grad = p.grad.T if name.startswith("mlp.") and name.endswith(".weight") else p.grad
            diffs[name] = (grad.reshape(-1) - torch.tensor(v)).abs().max().item()
        missing = set(net.go) - set(gm["tables"]) - set(gm["dense"])
        if missing:
            print(f"{arch}: the Go check lacks {sorted(missing)}")
            ok = False
        print(f"{arch}: loss Go {gm['loss']:.7f} PyTorch {loss.item():.7f}; max |gradient difference| over "
              f"{len(diffs) - 1} parameters {max(v for k, v in diffs.items() if k != 'loss'):.2e}")
        for k, v in diffs.items():
            worst = max(worst, v)
            if not v <= TOLERANCE:
                print(f"  {arch} {k}: differs by {v:.3e} > {TOLERANCE}")
                ok = False
    print(f"cross-check {'PASS' if ok else 'FAIL'}: loss and gradients agree within {TOLERANCE} (worst {worst:.2e})")
    return 0 if ok else 1


def main(argv):
    if len(argv) != 3 or argv[0] not in ("run", "check"):
        sys.exit("usage: torch_peer.py run DIR OUT.json | check DIR GO_CHECK.json")
    if argv[0] == "run":
        cmd_run(argv[1], argv[2])
        return 0
    return cmd_check(argv[1], argv[2])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

// Package model holds the CTR models of the trainer (LR, Wide&Deep,
// DeepFM, PNN and DIN), their hand-written forward and backward passes,
// sparse embedding updates, copy-on-write replicas for per-user
// fine-tuning, and the artifact format.
//
// # Features
//
// Every model sees the same five fields of a data.Sample: the user id, the
// candidate item id, the item's categories (mean-pooled), the user's earlier
// positive items (mean-pooled) and earlier negative items (mean-pooled; DIN
// pools the two histories by attention instead). An empty list pools to
// zero and gets no gradient.
//
// LR (logistic regression) has one weight per id and field:
//
//	z = b + wUser[u] + wItem[i] + mean_c wCat[c] + mean_p wPos[p] + mean_n wNeg[n]
//
// where wUser, wItem, wCat, wPos and wNeg are 1-dimensional tables of
// NumUsers, NumItems, NumCategories, NumItems and NumItems rows: an item has
// one weight as the candidate, one as a past positive and one as a past
// negative (sharing them would make a past click and a past skip of the same
// item push the logit the same way).
//
// WideDeep adds a deep part to that wide (LR) part:
//
//	x = [eUser[u], eItem[i], mean_c eCat[c], mean_p eItem[p], mean_n eItem[n]]
//	z = wide + MLP(x)
//
// with embedding tables eUser (NumUsers×d), eItem (NumItems×d) and eCat
// (NumCategories×d), d = Config.EmbeddingDim, so x has 5d values. The
// histories share the item table with the candidate (as DIN does): what a
// user's past items teach about them moves the same vectors the candidate
// uses. The MLP has ReLU hidden layers of Config.HiddenUnits widths and a
// linear output unit without bias (the wide part's bias serves both).
//
// The other deep architectures use the same embedding tables and the same
// kind of MLP (its input width aside). Below, v_1..v_5 are the five
// d-vectors of x (user, item, pooled categories, pooled positive history,
// pooled negative history) and wide is the LR logit above.
//
// DeepFM (Guo et al. 2017) adds to Wide&Deep the second-order term of a
// factorisation machine over the field vectors, which share their
// embeddings with the deep part:
//
//	fm = 0.5 * Σ_k ((Σ_f v_f[k])² - Σ_f v_f[k]²) = Σ_{f<g} <v_f, v_g>
//	z  = wide + fm + MLP(x)
//
// The wide part is the first-order term (per-id weights, the paper's
// "addition units"), and a pooled field counts as one field vector, its
// mean.
//
// PNN is the inner-product PNN (IPNN, Qu et al. 2016): the MLP's input is
// the product layer, the field vectors (the linear signal) followed by
// their 10 pairwise inner products,
//
//	p = [v_1, ..., v_5, <v_1,v_2>, <v_1,v_3>, ..., <v_4,v_5>]   (5d+10 values)
//	z = b + MLP(p)
//
// with its own bias b (parameter "output.bias"). As in the paper it has no
// first-order wide part: the linear signal already carries each field.
//
// DIN (Zhou et al. 2018) replaces Wide&Deep's mean pooling of the two
// histories by attention pooling with respect to the candidate item, with
// an activation unit per history (positive and negative):
//
//	a(e_h, e_c) = relu([e_h, e_c, e_h - e_c, e_h ⊙ e_c]·W1 + b1)·w2 + b2
//	pos         = (1/H) * Σ_{h in PosHistory} aPos(eItem[h], eItem[i]) eItem[h]
//	neg         = (1/H) * Σ_{h in NegHistory} aNeg(eItem[h], eItem[i]) eItem[h]
//	x           = [eUser[u], eItem[i], mean_c eCat[c], pos, neg]
//	z           = wide + MLP(x)
//
// W1 is 4d×36 (36 hidden units, as in the paper, independent of
// HiddenUnits), b1 1×36, w2 36×1, b2 a scalar; every occurrence in a
// history counts (repeats add up) and an empty history pools to zero. The
// weights a are not normalised (no softmax, as in the paper), so the
// pooled vector keeps how strongly and how often the user engaged with
// related items; H = max(Schema.HistoryLen, 1), the history cap, only
// rescales it to the size of a mean over a full history (dividing by the
// list's own length would discard that intensity). The positive and
// negative units are separate (parameters "attention.pos.*" and
// "attention.neg.*"): what makes a past click relevant to a candidate
// need not be what makes a past skip relevant. DIN keeps the wide part, as
// it is cheap and its per-id biases (item popularity, user activity)
// matter in CTR; it also makes DIN differ from Wide&Deep only in the
// pooling of the histories, so comparing the two measures the attention.
// Histories longer than the cap (data.Dataset rejects them) pool all the
// same, to a larger vector. The paper's Dice activation and mini-batch-aware
// regularisation are not implemented: the units use ReLU, and there is no
// regularisation.
//
// # Loss
//
// Binary cross-entropy with logits and soft labels: for a logit z and any
// real label y (label correction may produce 2 or 1/3), the loss is
// softplus(z) - y*z, whose derivative is sigmoid(z) - y. TrainStep returns
// the mean over the batch and descends its gradient.
//
// # Parameters and updates
//
// Embedding tables are flat row-major float32 slices updated sparsely: a
// step accumulates gradient rows only for the rows its batch touched, and the
// optimizer updates only those rows (optimizer state is kept per row).
// Dense parameters (biases, MLP and activation-unit weights) get dense
// gradients. After the first
// steps (buffers grow to the largest batch seen) a step allocates nothing.
//
// # Replicas
//
// Fork returns a Replica: a model that reads the base model's embedding
// tables without copying them and writes the rows it updates into a private
// overlay, with private copies of the dense parameters and its own optimizer
// state, which starts empty. Reset returns it to the base's state in time
// proportional to what it touched, so one replica per worker goroutine serves
// many users. Fine-tuning results depend only on the base, the batches and
// the optimizer, not on which replica ran them or in what order.
//
// A replica fine-tunes everything its batches reach, or, frozen
// (FreezeDense), only embedding rows, or, patched (UsePatch), nothing of
// the base: it trains a small per-user patch alone, a FiLM scale and shift
// of each hidden layer of the MLP (LR: a scale per logit term and a shift;
// see patch.go). Delta and ApplyDelta carry what a replica changed.
//
// Matrix products and vector updates use package kernels (AVX2+FMA on amd64
// CPUs that have it, pure Go otherwise) and run serially: parallelism
// belongs to the caller (one replica per core).
package model

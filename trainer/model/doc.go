// Package model holds the CTR models of the trainer (LR and Wide&Deep for
// now; DeepFM, PNN and DIN slot in as further architectures), their
// hand-written forward and backward passes, sparse embedding updates,
// copy-on-write replicas for per-user fine-tuning, and the artifact format.
//
// # Features
//
// Every model sees the same five fields of a data.Sample: the user id, the
// candidate item id, the item's categories (mean-pooled), the user's earlier
// positive items (mean-pooled) and earlier negative items (mean-pooled). An
// empty list pools to zero and gets no gradient.
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
// Dense parameters (biases, MLP weights) get dense gradients. After the first
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
// Matrix products use gonum's blas32 and run serially: parallelism belongs
// to the caller (one replica per core).
package model

"""The Huffman tree of hierarchical softmax (word2vec's `CreateBinaryTree`, written anew).

Hierarchical softmax replaces the V-way softmax by a binary tree whose V leaves are the words and
whose V - 1 inner nodes each own an output vector. A word's probability is the product, along the
path from the root to its leaf, of one sigmoid per inner node:

    p(w | x) = prod_l sigmoid((1 - 2 code_l) * x . node_vec[point_l])

where point_l is the l-th inner node on the path and code_l is 0 when the path turns to the node's
first child, 1 for its second child. Building the tree by frequency (Huffman) makes frequent
words' paths short, so the average cost per word is about the entropy of the unigram distribution
in bits instead of log2 V.

Construction, as in word2vec: start with one leaf per word; repeatedly merge the two nodes of
smallest count (the smaller becomes child 0, the other child 1) into a new inner node whose count
is their sum. Inner nodes are numbered 0..V-2 in the order they are created, so the root is V-2.
Ties are broken by preferring leaves over inner nodes, then lower ids (deterministic).
"""
import heapq

import numpy as np

__all__ = ["HuffmanTree"]


class HuffmanTree:
    """Huffman tree over word counts.

    counts: int (V,), V >= 2. Attributes:
      points  int64 (V, L): inner-node ids from the root down to each word's leaf, padded with
              `pad` (= V - 1, one past the last inner node) beyond the word's path length;
      codes   float32 (V, L): 0/1 turn taken at each node of the path (0 past the end);
      mask    float32 (V, L): 1 on the path, 0 on padding;
      lengths int64 (V,): path lengths (the words' code lengths in bits);
      L = lengths.max(); n_inner = V - 1; pad = V - 1.
    `path(word_id)` -> (points, codes) of one word, unpadded lists.
    """

    def __init__(self, counts):
        counts = np.asarray(counts)
        if counts.ndim != 1 or counts.shape[0] < 2:
            raise ValueError(f"HuffmanTree: need counts of shape (V,) with V >= 2 words, got shape {counts.shape}")
        if (counts < 0).any():
            raise ValueError("HuffmanTree: counts must be >= 0")
        V = counts.shape[0]
        # heap entries: (count, kind, id) with kind 0 = leaf (word id), 1 = inner node (inner id)
        heap = [(int(c), 0, i) for i, c in enumerate(counts)]
        heapq.heapify(heap)
        parent_of_leaf = np.empty(V, np.int64)
        code_of_leaf = np.empty(V, np.int64)
        parent_of_inner = np.full(V - 1, -1, np.int64)
        code_of_inner = np.zeros(V - 1, np.int64)
        for inner in range(V - 1):
            total = 0
            for code in (0, 1):  # the smaller of the two becomes child 0
                c, kind, i = heapq.heappop(heap)
                total += c
                if kind == 0:
                    parent_of_leaf[i], code_of_leaf[i] = inner, code
                else:
                    parent_of_inner[i], code_of_inner[i] = inner, code
            heapq.heappush(heap, (total, 1, inner))
        paths, turns = [], []
        for w in range(V):
            pts, cds = [parent_of_leaf[w]], [code_of_leaf[w]]
            while parent_of_inner[pts[-1]] >= 0:
                cds.append(code_of_inner[pts[-1]])
                pts.append(parent_of_inner[pts[-1]])
            paths.append(pts[::-1])
            turns.append(cds[::-1])
        self.V, self.n_inner, self.pad = V, V - 1, V - 1
        self.lengths = np.array([len(p) for p in paths], np.int64)
        self.L = int(self.lengths.max())
        self.points = np.full((V, self.L), self.pad, np.int64)
        self.codes = np.zeros((V, self.L), np.float32)
        self.mask = np.zeros((V, self.L), np.float32)
        for w, (p, c) in enumerate(zip(paths, turns)):
            self.points[w, :len(p)] = p
            self.codes[w, :len(c)] = c
            self.mask[w, :len(p)] = 1.0

    def path(self, word_id):
        """(points, codes) of word `word_id` from the root down, as lists of ints."""
        n = int(self.lengths[word_id])
        return self.points[word_id, :n].tolist(), self.codes[word_id, :n].astype(int).tolist()

    def log_prob(self, node_scores_fn, word_id):
        """log p(word) = sum_l log sigmoid((1 - 2 code_l) * score(point_l)), with score a function of
        the inner-node id (for tests and the tutorial). Returns a float."""
        pts, cds = self.path(word_id)
        z = np.array([(1 - 2 * c) * node_scores_fn(p) for p, c in zip(pts, cds)], np.float64)
        return float(-np.logaddexp(0.0, -z).sum())

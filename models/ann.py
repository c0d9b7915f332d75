"""Nearest-neighbour search by cosine over many vectors: exact, LSH (faiss-cpu) and HNSW (hnswlib).

    index = build_index(vectors, "lsh")          # vectors (n, d); rows are normalised inside
    ids, sims = index.search(queries, k=10)      # (q, k) row ids and cosines, best first

* ``exact``: one matrix product with the unit vectors (numpy); the reference.
* ``lsh``: random-hyperplane locality-sensitive hashing (Charikar's SimHash): each vector is
  reduced to `nbits` sign bits of its projections on random directions, so the Hamming distance
  of two codes estimates the angle between the vectors. faiss-cpu's ``IndexLSH`` stores the codes
  and scans them with Hamming distances; the best `rerank` * k candidates by Hamming distance are
  then re-ranked by their exact cosine (the codes only choose which vectors to compare).
* ``hnsw``: hnswlib's hierarchical navigable small-world graph in cosine space (`M`,
  `ef_construction` when building, `ef` when searching).

faiss-cpu and hnswlib are optional (``pip install 'tinygrad-lite[ann]'``); asking for an index
whose library is missing raises ImportError saying what to install.
"""
import numpy as np

__all__ = ["INDEX_KINDS", "build_index", "ExactIndex", "LSHIndex", "HNSWIndex", "recall_at_k"]

INDEX_KINDS = ("exact", "lsh", "hnsw")


def _unit(x):
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"nearest-neighbour index: vectors must be (n, d), got shape {x.shape}")
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _need(module, extra="ann"):
    try:
        return __import__(module)
    except ImportError:
        pkg = {"faiss": "faiss-cpu", "hnswlib": "hnswlib"}[module]
        raise ImportError(f"this index needs the optional package {pkg}: pip install {pkg} "
                          f"(or pip install -e '.[{extra}]')") from None


def _check_queries(q, d):
    q = _unit(np.atleast_2d(q))
    if q.shape[1] != d:
        raise ValueError(f"search: queries have {q.shape[1]} dims, the index holds {d}-dim vectors")
    return q


class ExactIndex:
    """Exact cosine search (numpy)."""
    kind = "exact"

    def __init__(self, vectors):
        self.unit = _unit(vectors)

    def search(self, queries, k=10):
        """queries (q, d) or (d,) -> (ids int64 (q, k), cosines float32 (q, k)), best first."""
        q = _check_queries(queries, self.unit.shape[1])
        k = min(k, self.unit.shape[0])
        sims = q @ self.unit.T
        n = sims.shape[1]
        top = np.argpartition(sims, n - k, axis=1)[:, n - k:] if k < n else np.tile(np.arange(k), (len(q), 1))
        order = np.argsort(-np.take_along_axis(sims, top, 1), axis=1, kind="stable")
        ids = np.take_along_axis(top, order, 1)
        return ids.astype(np.int64), np.take_along_axis(sims, ids, 1)


class LSHIndex:
    """Random-hyperplane LSH with faiss-cpu's IndexLSH (nbits sign bits), exact re-ranking of the
    best `rerank * k` codes by Hamming distance."""
    kind = "lsh"

    def __init__(self, vectors, nbits=512, rerank=10, seed=0):
        faiss = _need("faiss")
        self.unit = _unit(vectors)
        d = self.unit.shape[1]
        self.rerank = int(rerank)
        # rotate_data=True: project on nbits random directions (an orthonormal rotation, tiled when
        # nbits > d), then keep the signs (thresholds at 0, as random-hyperplane LSH)
        self.index = faiss.IndexLSH(d, int(nbits), True, False)
        if hasattr(self.index, "rrot") and seed is not None:
            try:
                self.index.rrot.init(int(seed))
            except Exception:  # pragma: no cover - older faiss versions: their fixed seed
                pass
        self.index.train(self.unit)
        self.index.add(self.unit)

    def search(self, queries, k=10):
        q = _check_queries(queries, self.unit.shape[1])
        k = min(k, self.unit.shape[0])
        kc = min(self.unit.shape[0], max(k, self.rerank * k))
        _, cand = self.index.search(q, kc)                        # (q, kc) by Hamming distance
        cand = np.where(cand < 0, 0, cand)
        sims = np.einsum("qd,qkd->qk", q, self.unit[cand])         # exact cosines of the candidates
        order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        return np.take_along_axis(cand, order, 1).astype(np.int64), np.take_along_axis(sims, order, 1)


class HNSWIndex:
    """hnswlib HNSW graph in cosine space."""
    kind = "hnsw"

    def __init__(self, vectors, M=16, ef_construction=200, ef=100, seed=0, threads=1):
        hnswlib = _need("hnswlib")
        self.unit = _unit(vectors)
        n, d = self.unit.shape
        self.index = hnswlib.Index(space="cosine", dim=d)
        self.index.init_index(max_elements=n, ef_construction=ef_construction, M=M, random_seed=seed)
        self.index.set_num_threads(threads)
        self.index.add_items(self.unit, np.arange(n))
        self.index.set_ef(ef)

    def search(self, queries, k=10):
        q = _check_queries(queries, self.unit.shape[1])
        k = min(k, self.unit.shape[0])
        self.index.set_ef(max(self.index.ef, k))
        ids, dist = self.index.knn_query(q, k=k)
        return ids.astype(np.int64), (1.0 - dist).astype(np.float32)


def build_index(vectors, kind="exact", **params):
    """An index of kind 'exact', 'lsh' or 'hnsw' over `vectors` (n, d); params go to its class."""
    classes = {"exact": ExactIndex, "lsh": LSHIndex, "hnsw": HNSWIndex}
    if kind not in classes:
        raise ValueError(f"build_index: kind must be one of {', '.join(INDEX_KINDS)}; got {kind!r}")
    return classes[kind](vectors, **params)


def recall_at_k(found, truth):
    """Mean fraction of each row of `truth` (q, k) found in the same row of `found` (q, k)."""
    found, truth = np.asarray(found), np.asarray(truth)
    return float(np.mean([len(set(f.tolist()) & set(t.tolist())) / max(len(t), 1) for f, t in zip(found, truth)]))

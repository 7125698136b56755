"""Angular statistics of embeddings: the paper's criterion "max intra-class angle <
min inter-class angle", per class and overall, plus angle histograms."""

import numpy as np

from sphereface_tf.angles import unit_rows

HISTOGRAM_BINS = np.linspace(0.0, 180.0, 91)  # 2° bins


def angle_statistics(features, labels, num_classes=None, bins=HISTOGRAM_BINS):
    """Pairwise angles between test features, block by block (memory O(n_class²)).

    Returns a JSON-ready dict (angles in degrees):
      per_class[c]: max_intra, mean_intra, min_inter, mean_inter, separated (max_intra < min_inter)
      overall: max_intra, min_inter, mean_intra, mean_inter, separated, classes_separated
      histogram: bin edges and counts of intra- and inter-class pair angles
    """
    f = unit_rows(features)
    labels = np.asarray(labels).astype(int)
    num_classes = int(num_classes or labels.max() + 1)
    groups = [f[labels == c] for c in range(num_classes)]
    intra_counts = np.zeros(len(bins) - 1)
    inter_counts = np.zeros(len(bins) - 1)
    max_intra = np.full(num_classes, np.nan)
    min_inter = np.full(num_classes, np.nan)
    sum_intra, n_intra = np.zeros(num_classes), np.zeros(num_classes)
    sum_inter, n_inter = np.zeros(num_classes), np.zeros(num_classes)
    for i in range(num_classes):
        for j in range(i, num_classes):
            if len(groups[i]) == 0 or len(groups[j]) == 0:
                continue
            angles = np.degrees(np.arccos(np.clip(groups[i] @ groups[j].T, -1.0, 1.0)))
            if i == j:
                angles = angles[np.triu_indices(len(groups[i]), k=1)]
                if angles.size:
                    max_intra[i] = angles.max()
                    sum_intra[i], n_intra[i] = angles.sum(), angles.size
                    intra_counts += np.histogram(angles, bins)[0]
            else:
                smallest = angles.min()
                for c in (i, j):
                    min_inter[c] = np.fmin(min_inter[c], smallest)
                    sum_inter[c] += angles.sum()
                    n_inter[c] += angles.size
                inter_counts += np.histogram(angles, bins)[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_intra = sum_intra / n_intra
        mean_inter = sum_inter / n_inter
    per_class = [
        dict(
            max_intra=_num(max_intra[c]), mean_intra=_num(mean_intra[c]),
            min_inter=_num(min_inter[c]), mean_inter=_num(mean_inter[c]),
            separated=bool(max_intra[c] < min_inter[c]),
        )
        for c in range(num_classes)
    ]
    overall_max_intra, overall_min_inter = np.nanmax(max_intra), np.nanmin(min_inter)
    return dict(
        per_class=per_class,
        overall=dict(
            max_intra=_num(overall_max_intra),
            min_inter=_num(overall_min_inter),
            mean_intra=_num(sum_intra.sum() / max(n_intra.sum(), 1)),
            mean_inter=_num(sum_inter.sum() / max(n_inter.sum(), 1)),
            separated=bool(overall_max_intra < overall_min_inter),
            classes_separated=int(sum(p["separated"] for p in per_class)),
        ),
        histogram=dict(bin_edges=bins.tolist(), intra=intra_counts.astype(int).tolist(), inter=inter_counts.astype(int).tolist()),
    )


def _num(value):
    return None if not np.isfinite(value) else round(float(value), 4)

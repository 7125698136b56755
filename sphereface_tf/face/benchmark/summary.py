"""The benchmark's summary over the folds finished so far: summary.json, table.md and roc.png."""

import os

import numpy as np

from sphereface_tf.face.benchmark.records import fold_records
from sphereface_tf.face.plots import plot_roc_curves
from sphereface_tf.util.files import atomic_write, save_figure, write_json

def summarize(out, folds, names):
    """summary.json, table.md and roc.png from the fold files present in `out`."""
    summary, curves = {}, {}
    for name in names:
        records = [record for _, _, record in fold_records(out, name, folds)]
        scored = [r for r in records if r.get("finite")]
        entry = dict(folds_done=[r["fold"] for r in records], diverged=[r["fold"] for r in records if not r.get("finite")])
        if scored:
            acc = np.array([r["accuracy"] for r in scored])
            entry.update(
                accuracy_mean=float(acc.mean()), accuracy_std=float(acc.std(ddof=1)) if len(acc) > 1 else 0.0,
                accuracies=acc.tolist(), roc_auc_mean=float(np.mean([r["roc_auc"] for r in scored])),
                tar_at_far={far: float(np.mean([r["tar_at_far"][far] for r in scored])) for far in scored[0]["tar_at_far"]},
                train_seconds_mean=float(np.mean([r["train_seconds"] for r in scored])),
                images_per_second_median=float(np.median([r["images_per_second"] for r in scored if r["images_per_second"]]))
                if any(r["images_per_second"] for r in scored) else None)
            if all("centered" in r for r in scored):  # records from before 2026-11-27's fifth session lack it
                centred = np.array([r["centered"]["accuracy"] for r in scored])
                entry["centered"] = dict(
                    accuracy_mean=float(centred.mean()), accuracy_std=float(centred.std(ddof=1)) if len(centred) > 1 else 0.0,
                    accuracies=centred.tolist(), roc_auc_mean=float(np.mean([r["centered"]["roc_auc"] for r in scored])))
            fpr = np.asarray(scored[0]["roc"]["fpr"])
            curves[name] = (fpr, np.mean([r["roc"]["tpr"] for r in scored], axis=0), entry["roc_auc_mean"])
        summary[name] = entry
    write_json(os.path.join(out, "summary.json"), summary)
    with atomic_write(os.path.join(out, "table.md"), "w") as handle:
        handle.write(summary_table(summary, folds))
    if curves:
        save_figure(plot_roc_curves(curves, title=f"LFW folds {', '.join(map(str, folds))}: mean ROC over folds"),
                    os.path.join(out, "roc.png"))
    return summary


def summary_table(summary, folds):
    lines = [f"Identity-disjoint LFW, folds {', '.join(map(str, folds))}: mean ± standard deviation over folds "
             "(each fold scored on its own pairs by a model trained on the other folds' people).", "",
             "| run | folds | accuracy | ROC AUC | TAR@FAR=1e-3 | TAR@FAR=1e-2 | diverged | accuracy, centred features |",
             "|---|---|---|---|---|---|---|---|"]
    for name, e in summary.items():
        centred = e.get("centered")
        centred = f"{centred['accuracy_mean']:.4f} ± {centred['accuracy_std']:.4f}" if centred else "—"
        if "accuracy_mean" in e:
            lines.append(f"| {name} | {len(e['folds_done'])} | {e['accuracy_mean']:.4f} ± {e['accuracy_std']:.4f} | "
                         f"{e['roc_auc_mean']:.4f} | {e['tar_at_far']['1e-3']:.4f} | {e['tar_at_far']['1e-2']:.4f} | "
                         f"{len(e['diverged'])} | {centred} |")
        else:
            lines.append(f"| {name} | {len(e['folds_done'])} | — | — | — | — | {len(e['diverged'])} | — |")
    lines += ["", "Accuracy: cosine similarity of the flip-concatenated embeddings, the threshold chosen on 9 of 10 "
              "stratified sub-folds of the fold's pairs. Centred features: as the official SphereFace evaluation, the "
              "mean embedding of those 9 sub-folds' pairs is subtracted first."]
    return "\n".join(lines) + "\n"

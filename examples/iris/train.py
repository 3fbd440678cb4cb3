"""Train a seeded logistic regression on the iris data and write the model and its metrics.

Usage: python train.py configs/train.json
"""
import csv
import json
import os
import pickle
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler


def load(path):
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    features = np.array([[float(row[k]) for k in ("sepal_length", "sepal_width", "petal_length", "petal_width")] for row in rows])
    labels = np.array([row["species"] for row in rows])
    return features, labels


def main(config_path):
    config = json.loads(Path(config_path).read_text())
    # repro-gate exports the record's seeds as REPRO_SEED_<NAME>; the config's seed is the fallback.
    seed = int(os.environ.get("REPRO_SEED_NUMPY", config["seed"]))
    features, labels = load(config["data"])
    x_train, x_test, y_train, y_test = train_test_split(
        features, labels, test_size=config["test_size"], random_state=seed, stratify=labels
    )
    scaler = StandardScaler().fit(x_train)
    model = SGDClassifier(
        loss="log_loss",
        alpha=config["alpha"],
        max_iter=config["max_iter"],
        tol=None,
        random_state=seed,
    ).fit(scaler.transform(x_train), y_train)
    predictions = model.predict(scaler.transform(x_test))

    out = Path(config["out"])
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "model.pkl", "wb") as handle:
        pickle.dump({"scaler": scaler, "model": model}, handle, protocol=5)
    metrics = {
        "accuracy": round(float(accuracy_score(y_test, predictions)), 6),
        "f1_macro": round(float(f1_score(y_test, predictions, average="macro")), 6),
        "train": {"n_iter": int(model.n_iter_), "n_samples": int(len(x_train))},
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"accuracy={metrics['accuracy']} f1_macro={metrics['f1_macro']} n_iter={metrics['train']['n_iter']}")


if __name__ == "__main__":
    main(sys.argv[1])

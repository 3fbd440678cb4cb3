"""Train a seeded two-layer MLP on the spirals data and write its weights (safetensors) and its metrics.

Usage: python train.py configs/train.json
"""
import json
import os
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn


def load(path):
    table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float32)
    return torch.from_numpy(table[:, :2].copy()), torch.from_numpy(table[:, 2].astype(np.int64))


def build_model(hidden_size, classes):
    # Named layers give the saved tensors stable, readable names (hidden.weight, classifier.bias, ...),
    # so a comparison of two runs can say which tensor moved.
    return nn.Sequential(
        OrderedDict(
            hidden=nn.Linear(2, hidden_size),
            activation=nn.Tanh(),
            classifier=nn.Linear(hidden_size, classes),
        )
    )


def main(config_path):
    config = json.loads(Path(config_path).read_text())
    # repro-gate exports the record's seeds as REPRO_SEED_<NAME>; the config's seed is the fallback.
    seed = int(os.environ.get("REPRO_SEED_TORCH", config["seed"]))
    # A CPU kernel splits its sums across threads, and the split changes the float rounding: a fixed thread count
    # (not "all cores") keeps the weights byte-identical on machines with different core counts.
    torch.set_num_threads(int(config["threads"]))
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)

    features, labels = load(config["data"])
    order = torch.randperm(len(labels), generator=generator)
    test_size = round(len(labels) * config["test_fraction"])
    test, train = order[:test_size], order[test_size:]
    x_train, y_train, x_test, y_test = features[train], labels[train], features[test], labels[test]

    model = build_model(config["hidden_size"], int(labels.max()) + 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=config["learning_rate"], momentum=config["momentum"])
    loss_function = nn.CrossEntropyLoss()
    for _ in range(config["epochs"]):
        epoch_loss = 0.0
        for batch in torch.randperm(len(y_train), generator=generator).split(config["batch_size"]):
            optimizer.zero_grad()
            loss = loss_function(model(x_train[batch]), y_train[batch])
            loss.backward()
            optimizer.step()
            epoch_loss += loss.item() * len(batch)

    model.eval()
    with torch.no_grad():
        logits = model(x_test)
        test_loss = loss_function(logits, y_test).item()
        accuracy = (logits.argmax(dim=1) == y_test).float().mean().item()

    out = Path(config["out"])
    out.mkdir(parents=True, exist_ok=True)
    save_file(model.state_dict(), out / "model.safetensors")
    metrics = {
        "accuracy": round(accuracy, 6),
        "loss": round(test_loss, 6),
        "train": {
            "epochs": config["epochs"],
            "n_samples": len(y_train),
            "loss": round(epoch_loss / len(y_train), 6),
        },
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(f"accuracy={metrics['accuracy']} loss={metrics['loss']} train.loss={metrics['train']['loss']}")


if __name__ == "__main__":
    main(sys.argv[1])

"""The reference side of opd's file-format tests: files opd wrote, read by
the libraries that define their formats.

    python read_back.py safetensors OUT_DIR FILE...
        Opens every FILE with the `safetensors` library, checks its header
        (names, dtypes, shapes, the "format" metadata) and writes what it read
        to OUT_DIR/<i>.safetensors with that library, so that the caller can
        compare it with what it wrote.
    python read_back.py tensorboard EVENTS_FILE OUT_JSON
        Reads the event file with TensorBoard's own loader and writes
        {"scalars": [[step, tag, value], ...], "version": "brain.Event:2"}.
    python read_back.py tensorboard_dir LOG_DIR OUT_JSON
        Reads every event file of LOG_DIR as TensorBoard's EventAccumulator
        does (restarts purge what earlier files logged at and after their
        step) and writes {tag: [[step, value], ...]} of the scalars it keeps.
"""
import json
import os
import sys


def safetensors(out_dir, files):
    from safetensors import safe_open
    from safetensors.torch import save_file

    for i, path in enumerate(files):
        with safe_open(path, framework="pt") as f:
            tensors = {name: f.get_tensor(name) for name in f.keys()}
            metadata = f.metadata() or {}
        if metadata.get("format") != "pt":
            sys.exit(f"{path}: metadata {metadata} has no \"format\": \"pt\"")
        save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(out_dir, f"{i}.safetensors"))


def tensorboard(events, out_json):
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.compat.proto import event_pb2  # noqa: F401  (the loader's proto)
    from tensorboard.util import tensor_util

    scalars, version = [], None
    for event in EventFileLoader(events).Load():
        if event.HasField("file_version"):
            version = event.file_version
        for value in event.summary.value:
            # The loader migrates simple_value into a scalar tensor.
            number = tensor_util.make_ndarray(value.tensor).item() if value.HasField("tensor") else value.simple_value
            scalars.append([event.step, value.tag, float(number)])
    with open(out_json, "w") as f:
        json.dump({"scalars": scalars, "version": version}, f)


def tensorboard_dir(log_dir, out_json):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(log_dir)
    acc.Reload()
    out = {tag: [[e.step, e.value] for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}
    with open(out_json, "w") as f:
        json.dump(out, f)


def main(argv):
    if len(argv) >= 3 and argv[0] == "safetensors":
        safetensors(argv[1], argv[2:])
    elif len(argv) == 3 and argv[0] == "tensorboard":
        tensorboard(argv[1], argv[2])
    elif len(argv) == 3 and argv[0] == "tensorboard_dir":
        tensorboard_dir(argv[1], argv[2])
    else:
        sys.exit("usage: read_back.py safetensors OUT_DIR FILE... | tensorboard EVENTS OUT_JSON | "
                 "tensorboard_dir LOG_DIR OUT_JSON")


if __name__ == "__main__":
    main(sys.argv[1:])

"""Load an image-text-to-text model (processor + weights) with transformers, resolved offline first.

Used by the transformers generator and by the figure captioner; lives in models/ so both import downward.
"""

from __future__ import annotations

from typing import Any

from mmrag.errors import GeneratorError, ModelUnavailable
from mmrag.models.resolve import resolve_device, resolve_model_path


def load_vlm(name: str, device: str = "auto", role: str = "generator", dtype: Any = None) -> tuple[Any, Any]:
    """Load (model, processor) of an image-text-to-text model, resolved offline first.

    dtype: a torch dtype; default bfloat16 on CUDA (when supported), float32 elsewhere.
    Raises ModelUnavailable when the weights cannot be found, GeneratorError when the model is of another kind.
    """
    import torch
    import transformers
    from transformers import AutoModelForImageTextToText, AutoProcessor

    path = resolve_model_path(name, role)
    device = resolve_device(device)
    if dtype is None:
        cuda_bf16 = device.startswith("cuda") and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        dtype = torch.bfloat16 if cuda_bf16 else torch.float32
    classes = [AutoModelForImageTextToText]
    legacy = getattr(transformers, "AutoModelForVision2Seq", None)  # removed in transformers 5
    if legacy is not None:
        classes.append(legacy)
    try:
        processor = AutoProcessor.from_pretrained(path)
    except OSError as exc:
        raise ModelUnavailable(name, role, f"no processor files found at {path} ({exc})") from exc
    last: Exception | None = None
    for cls in classes:
        try:
            model = cls.from_pretrained(path, dtype=dtype)
            break
        except ValueError as exc:  # config not in this auto class's mapping
            last = exc
        except OSError as exc:
            raise ModelUnavailable(name, role, f"no weights found at {path} ({exc})") from exc
    else:
        raise GeneratorError(f"'{name}' is not an image-text-to-text model transformers can load: {last}")
    return model.to(device).eval(), processor

"""What a CUDA device does during an epoch: peak memory (torch) and utilisation (NVML), for the epoch event.

    monitor = GpuMonitor(setup.device)
    ... monitor.sample() after every training step ...
    log.event("epoch", ..., **monitor.epoch_fields())

``epoch_fields`` gives ``gpu_memory_allocated`` and ``gpu_memory_reserved``
(the epoch's peaks, ``torch.cuda.max_memory_allocated/reserved``, bytes; the
peaks are reset for the next epoch), ``gpu_memory_total`` (bytes) and, when
``nvidia-ml-py`` is installed (``pip install pneumo-tui[gpu]``),
``gpu_utilization``: the mean of NVML's percent of time a kernel ran, sampled
at most once a second during the epoch's steps. On a CPU or MPS device, or
where a figure cannot be read, the fields are left out: a reader treats a
missing field as unknown. NVML is imported lazily and only when asked for.
"""

from __future__ import annotations

import time

import torch

SAMPLE_INTERVAL_S = 1.0  # NVML's utilisation is itself an average over its last sample period (1/6 s to 1 s)


class GpuMonitor:
    """Peaks and utilisation of one CUDA device, epoch by epoch; does nothing for any other device."""

    def __init__(self, device: torch.device, nvml=None):
        self.cuda = device.type == "cuda"
        self.device = device
        self._nvml = nvml  # the pynvml module (tests pass a fake); looked up lazily otherwise
        self._handle = None
        self._nvml_failed = False
        self._samples: list[float] = []
        self._sampled_at = float("-inf")
        if self.cuda:
            torch.cuda.reset_peak_memory_stats(device)

    def sample(self) -> None:
        """Read the utilisation now (at most once every SAMPLE_INTERVAL_S)."""
        if not self.cuda or time.monotonic() - self._sampled_at < SAMPLE_INTERVAL_S:
            return
        self._sampled_at = time.monotonic()
        percent = self._utilization()
        if percent is not None:
            self._samples.append(percent)

    def epoch_fields(self) -> dict:
        """The epoch's figures for its event ({} off CUDA), and a fresh start for the next epoch."""
        if not self.cuda:
            return {}
        fields = {
            "gpu_memory_allocated": int(torch.cuda.max_memory_allocated(self.device)),
            "gpu_memory_reserved": int(torch.cuda.max_memory_reserved(self.device)),
            "gpu_memory_total": int(torch.cuda.get_device_properties(self.device).total_memory),
        }
        if not self._samples:
            self._sampled_at = float("-inf")
            self.sample()  # an epoch shorter than a second: one reading
        if self._samples:
            fields["gpu_utilization"] = sum(self._samples) / len(self._samples)
        self._samples = []
        torch.cuda.reset_peak_memory_stats(self.device)
        return fields

    def _utilization(self) -> float | None:
        handle = self._nvml_handle()
        if handle is None:
            return None
        try:
            return float(self._nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
        except Exception:  # NVMLError (driver gone, not supported): no figure
            return None

    def _nvml_handle(self):
        """NVML's handle of this device (by its UUID, which CUDA_VISIBLE_DEVICES does not renumber), or None."""
        if self._handle is not None or self._nvml_failed:
            return self._handle
        try:
            if self._nvml is None:
                import pynvml  # nvidia-ml-py, the optional [gpu] extra

                self._nvml = pynvml
            self._nvml.nvmlInit()
            uuid = getattr(torch.cuda.get_device_properties(self.device), "uuid", None)
            if uuid is not None:
                text = str(uuid)
                self._handle = self._nvml.nvmlDeviceGetHandleByUUID(text if text.startswith("GPU-") else f"GPU-{text}")
            else:
                self._handle = self._nvml.nvmlDeviceGetHandleByIndex(self.device.index or 0)
        except Exception:  # not installed, no driver, an old torch without uuid: no utilisation, never an error
            self._nvml_failed = True
            self._handle = None
        return self._handle

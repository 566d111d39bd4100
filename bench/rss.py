"""Peak RSS of one phase of a process, above what the process held when the phase began.

Used by the LLM conversion children (bench/ours_export_llm.py, bench/incumbent_export_hf.py), which
run in different venvs: it needs nothing but the standard library.

    meter = PhaseMeter()          # after the PyTorch model is loaded
    ... the export ...
    meter.stop() -> {"rss_at_start_mb", "peak_rss_mb", "peak_above_start_mb", "timeline", ...}

The peak comes from the kernel, not from sampling: writing "5" to /proc/self/clear_refs resets
VmHWM (the high-water mark of the resident set) to the current RSS (Linux >= 4.0), so VmHWM at the
end is the peak of this phase alone. A sampling thread also records (seconds, RSS MiB, anonymous RSS MiB, label) every
`interval` seconds, labelled with the last `mark()`, to show where the peak happens and whether it
is anonymous memory (copies) or file pages mapped from disk (RssFile: memory-mapped archives).
"""

from __future__ import annotations

import threading
import time


def status_kib(field: str) -> int:
    """A `VmXXX:  N kB` field of /proc/self/status, in KiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def reset_peak() -> bool:
    """Resets VmHWM to the current RSS; False if the kernel refuses (then VmHWM is the process peak)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class PhaseMeter:
    def __init__(self, interval: float = 0.05):
        self._label = "start"
        self._t0 = time.perf_counter()
        self.timeline: list[tuple[float, float, float, str]] = []
        self.peak_was_reset = reset_peak()
        self.rss_at_start_kib = status_kib("VmRSS")
        self.rss_anon_at_start_kib = status_kib("RssAnon")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(interval,), daemon=True)
        self._thread.start()

    def mark(self, label: str) -> None:
        """Names the phase that starts now (shows in the timeline)."""
        self._label = label
        self.timeline.append(self._sample_now(label))

    def _sample_now(self, label: str) -> tuple[float, float, float, str]:
        return (time.perf_counter() - self._t0, status_kib("VmRSS") / 1024, status_kib("RssAnon") / 1024, label)

    def _sample(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.timeline.append(self._sample_now(self._label))

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        peak_kib = status_kib("VmHWM")
        # The peak of each labelled phase, from the samples (coarser than VmHWM, but it says where).
        by_label: dict[str, float] = {}
        anon_by_label: dict[str, float] = {}
        for _, mb, anon, label in self.timeline:
            by_label[label] = max(by_label.get(label, 0.0), mb)
            anon_by_label[label] = max(anon_by_label.get(label, 0.0), anon)
        return {
            "rss_at_start_mb": self.rss_at_start_kib / 1024,
            "peak_rss_mb": peak_kib / 1024,
            "peak_above_start_mb": (peak_kib - self.rss_at_start_kib) / 1024,
            "peak_was_reset": self.peak_was_reset,
            "sampled_peak_by_phase_mb": by_label,
            "sampled_anon_peak_by_phase_mb": anon_by_label,
            "rss_anon_at_start_mb": self.rss_anon_at_start_kib / 1024,
            "seconds": time.perf_counter() - self._t0,
        }

"""Every benchmark target beside its figure, and whether all are met (``results.json``'s ``targets``).

The figures come from :mod:`core.bench.run` and the benches it calls (live, framing, group photos,
robustness, memory, label audit); each of those states its own target, and this gathers the verdicts.
"""
from __future__ import annotations

# Targets from the issue.
TARGET_CNN_FACE_MS = 10.0
TARGET_SPEEDUP_1280x720 = 10.0  # a whole photo, ours end to end vs DeepFace.analyze
TARGET_GRADCAM_FACE_MS = 100.0  # one face's map, per model: fast enough to show beside every face


def collect_targets(results: dict, df) -> dict:
    """Each target beside its figure, and whether every one is met."""
    targets = {"cnn_face_ms_p50_target": TARGET_CNN_FACE_MS,
               "cnn_face_target_met": results["cnn_face_ms_p50"] <= TARGET_CNN_FACE_MS}
    if df:
        speedup = results["ratio_deepface_analyze_vs_cnn_1280x720_1face"]
        targets.update({"speedup_vs_deepface_analyze_1280x720_1face": speedup,
                        "speedup_target": TARGET_SPEEDUP_1280x720,
                        "speedup_target_met": speedup >= TARGET_SPEEDUP_1280x720})
    else:
        targets.update({"speedup_target_met": None})
    gradcam = {k: v for k, v in results.items() if k.startswith("gradcam_") and k.endswith("_face_ms_p50")}
    if gradcam:
        targets.update({"gradcam_face_ms_p50_target": TARGET_GRADCAM_FACE_MS,
                        "gradcam_target_met": all(v <= TARGET_GRADCAM_FACE_MS for v in gradcam.values())})
    if "live_640x480_fps" in results:
        targets["live_fps_target_met"] = results["live_640x480_fps"] >= results["live_fps_target"]
    if isinstance(results.get("data_eval"), dict) and "target_cnn_met" in results["data_eval"]:
        targets["data_eval_target_met"] = bool(results["data_eval"]["target_cnn_met"]
                                               and results["data_eval"]["target_zip_met"])
    targets.update(results.get("framing", {}).get("targets_met", {}))
    group = results.get("group_photos", {})
    tiles = next((row for row in group.get("detectors", []) if row["detector"] == "blazeface-tiles"), None)
    if tiles:
        targets["group_photo_recall_target_met"] = bool(
            tiles["recall"] >= group["target_recall"]
            and tiles["false_positives_per_photo"] <= group["target_false_positives_per_photo"])
    if isinstance(results.get("robustness"), dict) and "target_met" in results["robustness"]:
        targets["robustness_target_met"] = results["robustness"]["target_met"]
    your_data = results["memory"].get("your_data", {})
    if "within_limit" in your_data:
        targets["your_data_peak_mib_target"] = your_data["limit_mib"]
        targets["your_data_memory_target_met"] = your_data["within_limit"]
    if "target_met" in results.get("label_audit", {}):
        targets["label_audit_flip_target_met"] = results["label_audit"]["target_met"]
    targets["all_targets_met"] = all(v is True for k, v in targets.items() if k.endswith("_met"))
    return targets

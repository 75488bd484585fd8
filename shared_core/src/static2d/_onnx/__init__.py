"""The ONNX engine: the cut graph exported, cached, quantized, and run by ONNX Runtime, then its head in numpy."""

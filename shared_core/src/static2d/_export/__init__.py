"""Building what an engine runs from another engine's model: a transformer cut with torch, exported as an ONNX graph.

It sits above the engines (it uses the torch engine's cut and the ONNX engine's cache and runtime); the ONNX engine
itself never imports torch.
"""

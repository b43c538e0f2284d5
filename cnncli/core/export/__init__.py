"""`cnn export`: a trained model as an ONNX graph that carries everything needed to use it correctly.

    from cnncli.core.export.onnx import export_model
    report = export_model("runs/lean-mnist-1")     # ExportReport: path, sha256, parity, seconds

onnx.py imports torch; this package's __init__ imports nothing heavy.
"""

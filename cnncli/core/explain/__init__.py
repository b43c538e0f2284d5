"""`cnn explain`: what a trained network makes of an image, stage by stage, and where its evidence lies.

    from cnncli.core.explain.explainer import Explainer, ExplainSettings
    explainer = Explainer(open_model("runs/lean-mnist-1"), ExplainSettings(top_k=3))
    for outcome in explainer.run(expand_inputs(["digit.png"])):
        ...  # Explanation (stages' maps and statistics, Grad-CAM, integrated gradients) or Failure

Modules: stages (which layers are shown, forward hooks), attribution (Grad-CAM, integrated
gradients), explainer (the per-image pipeline, on inference's model and image preparation), tiles
(colouring and laying out maps, numpy only) and sheet (the PNG sheet, with matplotlib).
Nothing here imports training.
"""

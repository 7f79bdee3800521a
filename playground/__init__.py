"""Model Playground: try, compare and fine-tune AI models on your own machine."""

__version__ = "0.1.0"
APP_NAME = "Model Playground"
ORG_NAME = "ModelPlayground"

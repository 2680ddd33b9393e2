"""Model Promotion Workbench: evidence-based go/no-go decisions for ML models.

The package is the domain: it never imports Streamlit. Heavy libraries (shap, the PDF
stack, onnxruntime) are imported lazily by the modules that need them, so
``import workbench`` stays fast.
"""

from workbench.errors import (
    ArtefactError,
    ManifestError,
    PolicyError,
    SigningError,
    StoreError,
    WorkbenchError,
)

__version__ = "0.1.0"

__all__ = [
    "ArtefactError",
    "ManifestError",
    "PolicyError",
    "SigningError",
    "StoreError",
    "WorkbenchError",
    "__version__",
]

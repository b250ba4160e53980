"""Python client of Sluice, a feature store and model server in one gRPC service.

`SluiceClient` wraps the common calls (`sluice.aio.AsyncSluiceClient` is the asyncio client, for the
hot ones); the generated stubs and messages are in `sluice.v1`
(`sluice.v1.registry_pb2`, `sluice.v1.online_pb2_grpc`, ...) and the KServe v2 ones in
`sluice.kserve`. Regenerate them with `npm run generate` from the repository root.
"""

from sluice._client import Batch, EventBatch, SluiceClient
from sluice._credentials import Tls, TokenProvider, TokenUnavailableError
from sluice._errors import FieldViolation, SluiceArgumentError, SluiceError
from sluice._learning import Label, LabelBatch
from sluice._models import Prediction, PredictionOutput
from sluice._values import Float, FloatList, Int32, from_value, to_value
from sluice._writes import EventWriteResult, RowRejection, WriteResult

__all__ = [
    "Batch",
    "EventBatch",
    "EventWriteResult",
    "FieldViolation",
    "Float",
    "FloatList",
    "Int32",
    "Label",
    "LabelBatch",
    "Prediction",
    "PredictionOutput",
    "RowRejection",
    "SluiceArgumentError",
    "SluiceClient",
    "SluiceError",
    "Tls",
    "TokenProvider",
    "TokenUnavailableError",
    "WriteResult",
    "from_value",
    "to_value",
]

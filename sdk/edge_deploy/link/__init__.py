"""The host side of the edge-deploy serial protocol (docs/protocol.md).

``DeviceClient(url)`` talks to the runtime over any pyserial URL (a device path, a pty,
``socket://127.0.0.1:PORT``) or a connected socket: ``info``, ``echo``, ``model_info``,
``load_input``, ``run``, ``read_output``, ``run_inputs`` (pipelined RUN_BATCH), ``read_profile``.
``edge_deploy.link.frame`` has the framing, ``edge_deploy.link.stream`` the byte streams,
``edge_deploy.link.session`` the requests in flight and their resends.
"""

from edge_deploy.link.client import DeviceClient
from edge_deploy.link.session import DeviceFault, LinkSession, Request
from edge_deploy.link.frame import MAX_PAYLOAD, Frame, FrameDecoder, encode_frame
from edge_deploy.link.messages import CycleCounter, DeviceInfo, FaultReport, ModelInfo, Profile, RunResult
from edge_deploy.link.stream import LinkClosed, LinkError

__all__ = [
    "MAX_PAYLOAD",
    "CycleCounter",
    "DeviceClient",
    "DeviceFault",
    "DeviceInfo",
    "FaultReport",
    "Frame",
    "FrameDecoder",
    "LinkClosed",
    "LinkError",
    "LinkSession",
    "ModelInfo",
    "Profile",
    "Request",
    "RunResult",
    "encode_frame",
]

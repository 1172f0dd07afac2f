"""The base of the API's pydantic models."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ApiModel(BaseModel):
    # A model's validator and serializer are built on its first use, not when its class is
    # defined: building all ~70 of them was a third of `create_app` (and of the demo's start),
    # while a request needs two or three. The OpenAPI document builds the rest when asked.
    # Concurrent first uses are safe from pydantic 2.14 on (its rebuild lock; hence the pin).
    model_config = ConfigDict(defer_build=True)

"""The API's JSON renderer: DRF's, strict, writing non-finite floats as null (see finite_json)."""

from __future__ import annotations

from rest_framework.renderers import JSONRenderer

from rpa_workbench.finite_json import finite


class FiniteJSONRenderer(JSONRenderer):
    """DRF's JSONRenderer (strict), writing non-finite floats as null rather than failing."""

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except ValueError:  # "Out of range float values are not JSON compliant"
            return super().render(finite(data), accepted_media_type, renderer_context)

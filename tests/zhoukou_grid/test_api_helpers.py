"""The API's shared helpers for services' errors and path ids (zhoukou_grid.core.api)."""

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import NotFound, ValidationError

from zhoukou_grid.core.api import api_validation_error, path_id


def test_a_services_field_errors_become_the_apis_field_errors():
    error = api_validation_error(DjangoValidationError({"grid_id": ["Not yours."], "note": ["Too long."]}))
    assert isinstance(error, ValidationError)
    assert error.detail == {"grid": ["Not yours."], "note": ["Too long."]}


def test_an_error_without_a_field_is_a_non_field_error_never_a_bare_list():
    error = api_validation_error(DjangoValidationError("Only a draft can be approved."))
    assert error.detail == {"non_field_errors": ["Only a draft can be approved."]}
    error = api_validation_error(DjangoValidationError(["One.", "Two."]))
    assert error.detail == {"non_field_errors": ["One.", "Two."]}


def test_a_path_id_is_a_number_or_a_404():
    assert path_id("42") == 42
    assert path_id(7) == 7
    for bad in ("abc", None, "4.2"):
        with pytest.raises(NotFound):
            path_id(bad)

"""The API's base: authentication, schema of the error answers, paging, scoped
foreign keys written as codes, the scoped model viewset, token exchange and the JSON
404/400 handlers.

Every viewset derives from `ScopedModelViewSet`: its rows start from
`scoping.for_user` (reads) or `scoping.writable_for_user` (writes), so an object
outside the user's territory answers 404 exactly like a missing one. Which verbs a
user may use is decided by Django permissions (`api_permissions.ModelPermissions`).
"""


from __future__ import annotations

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import permissions, serializers, viewsets
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import APIException, NotFound, Throttled, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle

from zhoukou_grid.core.audit import audit_record
from zhoukou_grid.core.scoping import for_user, writable_for_user

# Token first: its `WWW-Authenticate` header turns "not logged in" into a 401 (with the
# session class first DRF answers 403, which a client cannot tell from "not allowed").
API_AUTHENTICATION_CLASSES = [TokenAuthentication, SessionAuthentication]


# --- Schema: the error responses every endpoint can give -------------------------
class ErrorSerializer(serializers.Serializer):
    """The body of 401, 403 and 404 answers."""

    detail = serializers.CharField()


# A 400 answer: messages per field (DRF's ValidationError, django-filter's invalid filters):
# a list of messages, or for nested input (a list of hazards, an id list) the messages per
# item or index; a body that is not valid JSON or form data is answered `detail`.
FIELD_ERRORS_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string", "description": "The body could not be read (not valid JSON)."}},
    "additionalProperties": {"anyOf": [
        {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "object"}]}},
        {"type": "object"},
    ]},
}


# The model viewsets' own writes; any other POST on an object is an action with rules of its own.
_PLAIN_WRITES = ("create", "update", "partial_update")


class ScopedAutoSchema(AutoSchema):
    """AutoSchema that documents 400 (writes), 401, 403 and 404 (objects) answers.

    drf-spectacular documents only the success answer by default; a client needs to
    know that an object outside its territory answers 404 like a missing one.
    """

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        errors: dict[str, OpenApiResponse] = {}
        is_list = self.method == "GET" and self._is_list_view()
        action = getattr(self.view, "action", None)
        if self.method in ("POST", "PUT", "PATCH") and action not in _PLAIN_WRITES and "{" in self.path:
            # An action on one object (a step, a cancellation, an approval): valid input can
            # still be refused by the object's state, and that refusal is a 400 too.
            errors["400"] = OpenApiResponse(
                response=FIELD_ERRORS_SCHEMA,
                description="Invalid input, or the action does not apply to the object in its current state "
                            "(a step out of order, a visit no longer planned, an alert already handled): a "
                            "list of messages per field or under non_field_errors.",
            )
        elif self.method in ("POST", "PUT", "PATCH"):
            errors["400"] = OpenApiResponse(
                response=FIELD_ERRORS_SCHEMA,
                description="Invalid input, or a business rule refuses it (e.g. a duplicate): a list of messages "
                            "per field (or under non_field_errors).",
            )
        elif is_list and (self._get_filter_parameters() or self._get_paginator() is not None):
            errors["400"] = OpenApiResponse(response=FIELD_ERRORS_SCHEMA,
                                            description="Invalid filter or page size: a list of messages per "
                                                        "parameter.")
        if self.method in ("POST", "PUT", "PATCH"):
            errors["415"] = OpenApiResponse(ErrorSerializer, description="The body's media type is not accepted, "
                                                                         "or the body cannot be read as that type.")
        if getattr(self.view, "authentication_classes", None):
            errors["401"] = OpenApiResponse(ErrorSerializer, description="Not authenticated.")
            errors["403"] = OpenApiResponse(ErrorSerializer, description="The user's role lacks this verb.")
        if getattr(self.view, "throttle_classes", None):
            errors["429"] = OpenApiResponse(ErrorSerializer, description="Too many requests; retry later.")
        if "{" in self.path:
            errors["404"] = OpenApiResponse(
                ErrorSerializer, description="No such object, or it lies outside the user's territory."
            )
        elif getattr(self.view, "action", None) in getattr(self.view, "body_object_actions", ()):
            errors["404"] = OpenApiResponse(
                ErrorSerializer, description="An object the body names by id does not exist, or it lies outside "
                                             "the user's territory.")
        elif is_list and self._get_paginator() is not None:
            errors["404"] = OpenApiResponse(ErrorSerializer, description="No such page.")
        if self.method == "DELETE" and "{" in self.path:
            errors["409"] = OpenApiResponse(ErrorSerializer, description="Other records still refer to this object.")
        for code, response in errors.items():
            responses.setdefault(code, self._get_response_for_code(response, code, direction=direction))
        return responses


# Bounds of ids and counts written in a body: a larger number would overflow the database's
# integer columns in the query (a 500); refused with a 400 instead (tests/fuzz/).
MAX_ID = 2**63 - 1
MAX_INT = 2**31 - 1


def _is_total(queryset, ordering) -> bool:
    """Whether an ordering already tells every row apart: it names the primary key or a
    unique, non-null field of the model itself (not one across a relation)."""
    meta = queryset.model._meta
    for term in ordering:
        if not isinstance(term, str):
            continue  # an expression (F(...).asc()): cannot tell, the primary key is added
        name = term.lstrip("-+")
        if name in ("pk", meta.pk.name, meta.pk.attname):
            return True
        try:
            field = meta.get_field(name)
        except FieldDoesNotExist:  # a lookup across a relation, an annotation
            continue
        if getattr(field, "unique", False) and not getattr(field, "null", True) and not field.is_relation:
            return True
    return False


def with_total_order(queryset):
    """The queryset ordered so that no two rows tie: its ordering (or the model's), then the
    primary key. Paging an ordering with ties (projections by date, 500 rows a page) gave
    some rows on two pages and others on none: the database may order ties differently
    for each page's query."""
    from django.db.models import QuerySet

    if not isinstance(queryset, QuerySet):
        return queryset
    query = queryset.query
    ordering = list(query.order_by) if query.order_by else (
        list(queryset.model._meta.ordering) if query.default_ordering else [])
    if _is_total(queryset, ordering):
        return queryset
    return queryset.order_by(*ordering, "pk")


class ApiPagination(PageNumberPagination):
    """Pages of at most 500 rows, over a total order (`with_total_order`).

    `page_size` must be a whole number from 1 to 500: DRF took anything else (`null`,
    `-3`, `abc`) silently as the default size, which the schema did not say; now it is a
    400 naming the parameter. Larger sizes are cut to 500, as documented.
    """

    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param, "")
        if not raw.strip():  # an empty parameter is no parameter, as for the filters
            return self.page_size
        try:
            size = int(raw.strip())
        except ValueError:
            size = 0
        if size < 1:
            raise ValidationError({self.page_size_query_param: [
                _("Give a whole number from 1 to %(max)d.") % {"max": self.max_page_size}]})
        return min(size, self.max_page_size)

    def paginate_queryset(self, queryset, request, view=None):
        return super().paginate_queryset(with_total_order(queryset), request, view=view)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
                parameter["description"] = (f"Rows per page, from 1; more than {self.max_page_size} gives "
                                            f"{self.max_page_size}. Anything else is a 400.")
            elif parameter["name"] == self.page_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 1}
        return parameters


def territory_field(model, *, many: bool = False, required: bool = True, allow_null: bool = False):
    """A foreign key written and read as the target's code.

    The choices are the rows the requesting user may *change*: a code outside the
    territory is answered "does not exist", the same as a code nobody has.
    """
    return ScopedSlugRelatedField(
        model=model, slug_field="code", many=many, required=required, allow_null=allow_null
    )


class ScopedSlugRelatedField(serializers.SlugRelatedField):
    """SlugRelatedField whose queryset is `writable_for_user` of the request's user."""

    def __init__(self, *, model, **kwargs):
        self.scoped_model = model
        # A queryset is needed for the schema (model and field type); requests use get_queryset.
        super().__init__(queryset=model._default_manager.none(), **kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        if request is None:
            return self.scoped_model._default_manager.none()
        return writable_for_user(request.user, self.scoped_model)


# --- Base viewset -----------------------------------------------------------------
class ScopedModelViewSet(viewsets.ModelViewSet):
    """A model viewset scoped to the user's territory, with shared filters and audit.

    Subclasses set `queryset` (the model and its select_related/prefetch_related, so a
    list costs a constant number of queries), `serializer_class`, `filterset_class`
    and `ordering_fields`.
    """

    authentication_classes = API_AUTHENTICATION_CLASSES
    pagination_class = ApiPagination
    schema = ScopedAutoSchema()
    ordering = None  # the model's Meta.ordering
    audit_object_type = ""

    def get_queryset(self):
        base = super().get_queryset()
        # Changes only inside the own territory: ancestors seen as context are read-only.
        include_context = self.request.method in SAFE_METHODS
        return for_user(self.request.user, base, include_context=include_context)

    def _audit(self, action: str, instance, fields=()) -> None:
        audit_record(
            user=self.request.user,
            action=f"api.{action}",
            object_type=self.audit_object_type or instance._meta.label_lower,
            object_id=instance.pk,
            detail={"fields": sorted(fields)} if fields else {},
        )

    def perform_create(self, serializer):
        with transaction.atomic():
            instance = serializer.save()
            self._audit("create", instance, serializer.validated_data.keys())

    def perform_update(self, serializer):
        with transaction.atomic():
            instance = serializer.save()
            self._audit("update", instance, serializer.validated_data.keys())

    def update(self, request, *args, **kwargs):
        """PUT and PATCH answer the whole object with a full serializer, as the schema says.
        A partial serializer skips a field whose source is missing (`household.transformer`
        of a resident without a household) instead of answering its default (null)."""
        partial = kwargs.pop("partial", False)
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        self.perform_update(serializer)
        if getattr(instance, "_prefetched_objects_cache", None):
            instance._prefetched_objects_cache = {}
        return Response(self.get_serializer(serializer.instance).data)

    def perform_destroy(self, instance):
        pk = instance.pk
        try:
            with transaction.atomic():
                instance.delete()
                instance.pk = pk
                self._audit("delete", instance)
        except ProtectedError:
            raise Conflict(_("It cannot be deleted while other records still refer to it.")) from None


class Conflict(APIException):
    status_code = 409
    default_detail = _("The request conflicts with existing records.")
    default_code = "conflict"


def api_validation_error(error: DjangoValidationError) -> ValidationError:
    """A service's Django ValidationError as the API's 400: messages per field, named as the
    API names them (`grid`, not `grid_id`), or under `non_field_errors`; never a bare list."""
    if hasattr(error, "error_dict"):
        return ValidationError({field.removesuffix("_id"): messages for field, messages in error.message_dict.items()})
    return ValidationError({"non_field_errors": error.messages})


def path_id(pk) -> int:
    """The object id of a URL path as a number; anything else is a 404 like a missing object."""
    try:
        return int(pk)
    except (TypeError, ValueError):
        raise NotFound from None


# --- The task queue is down --------------------------------------------------------------
QUEUE_UNAVAILABLE_CODE = "queue_unavailable"


def queue_unavailable_response(**saved) -> Response:
    """503 for a request whose work is saved but could not be queued (Redis down): the
    message, a code to test, and the saved object (`job`, `run`) to follow up."""
    from zhoukou_grid.core.queue import QUEUE_UNAVAILABLE_MESSAGE

    return Response({"detail": str(QUEUE_UNAVAILABLE_MESSAGE), "code": QUEUE_UNAVAILABLE_CODE, **saved},
                    status=503, headers={"Retry-After": "60"})



class TokenView(ObtainAuthToken):
    """Exchange a username and password for the user's API token (throttled)."""

    # Anyone may ask; the credentials are the authentication. Axes counts the failures.
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [AnonRateThrottle]
    schema = ScopedAutoSchema()

    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        except ValidationError:
            # django-axes refuses even the right password while a lock lasts; say so.
            if getattr(request, "axes_locked_out", False):
                raise Throttled(detail=_("Too many failed logins. Try again later.")) from None
            raise


def not_found(request, exception=None):
    """The site's 404 handler: under /api/ a JSON answer like every other API error (a URL
    no route matches, e.g. an id that is not a number), elsewhere Django's page."""
    from django.views.defaults import page_not_found

    if request.path.startswith("/api/"):
        return _json_error(NotFound.default_detail, 404)
    return page_not_found(request, exception)


def bad_request(request, exception=None):
    """The site's 400 handler: under /api/ JSON (a request Django refuses before the API
    sees it, e.g. more than DATA_UPLOAD_MAX_NUMBER_FIELDS form fields), elsewhere Django's page."""
    from django.views.defaults import bad_request as page_bad_request
    from rest_framework.exceptions import ParseError

    if request.path.startswith("/api/"):
        return _json_error(ParseError.default_detail, 400)
    return page_bad_request(request, exception)


def _json_error(detail, status: int):
    from django.http import JsonResponse

    return JsonResponse({"detail": str(detail)}, status=status)

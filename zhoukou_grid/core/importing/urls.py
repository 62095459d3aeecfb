from django.urls import path

from zhoukou_grid.core.importing import views as import_views

app_name = "imports"

urlpatterns = [
    path("", import_views.history, name="history"),
    path("new/", import_views.new, name="new"),
    path("<uuid:job_id>/", import_views.preview, name="preview"),
    path("<uuid:job_id>/errors.xlsx", import_views.errors, name="errors"),
    path("<uuid:job_id>/status.json", import_views.status, name="status"),
    path("template/<slug:kind>.xlsx", import_views.template, name="template"),
    path("export/<slug:kind>/", import_views.export, name="export"),
]

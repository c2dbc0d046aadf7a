from django.urls import URLPattern, include, path

app_name = "tasks"

# Portal pages; each views module adds its routes here.
urlpatterns: list[URLPattern] = []

# REST API under /api/v1/ (see tasks/api.py).
api_urlpatterns: list[URLPattern] = []

urlpatterns = [*urlpatterns, path("api/v1/", include((api_urlpatterns, "api")))]  # type: ignore[list-item]

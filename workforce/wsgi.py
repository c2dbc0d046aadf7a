import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workforce.settings.base")
django_application = get_wsgi_application()

from tasks.lane import hot_lane  # noqa: E402 - needs the settings, and apps loaded, first

# The plain next-task and submit requests skip Django's request cycle (see tasks.lane).
application = hot_lane(django_application)

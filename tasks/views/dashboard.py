"""Operations dashboard: throughput, completion, ETA and per-contractor quality, charts drawn as SVG."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from tasks import charts, selectors
from tasks.models import Project
from workforce.permissions import role_required

# The interval chart stays readable up to about this many rows; the table lists more.
CHART_ROWS = 25


def _throughput_chart(throughput: selectors.ProjectThroughput) -> SafeString:
    bars = [(timezone.localtime(h.start).strftime("%H:00"), h.count) for h in throughput.series]
    total = sum(count for _label, count in bars)
    busiest = max(throughput.series, key=lambda h: h.count, default=None)
    desc = _("%(total)d answers in the last 24 hours; the busiest hour began at %(hour)s with %(n)d.") % {
        "total": total,
        "hour": timezone.localtime(busiest.start).strftime("%H:00") if busiest else "—",
        "n": busiest.count if busiest else 0,
    }
    return charts.bar_chart(
        bars=bars, title=_("Answers per hour, last 24 hours"), desc=desc, unit=_("answers"), label_every=3
    )


def _quality_chart(table: selectors.ContractorTable, project: Project) -> SafeString:
    marks = [
        charts.IntervalMark(row.name, row.estimate.lower, row.estimate.upper, row.estimate.accuracy)
        for row in table.rows[:CHART_ROWS]
        if row.estimate is not None and row.estimate.gold_total
    ]
    desc = _(
        "Gold accuracy with its 95%% interval for %(n)d contractors; the dashed line is the project minimum "
        "of %(min)s. Only an interval wholly left of it blocks work."
    ) % {"n": len(marks), "min": charts.percent(project.min_quality)}
    return charts.interval_chart(marks=marks, title=_("Quality per contractor"), desc=desc, minimum=project.min_quality)


@role_required(read=True)
def project_list(request: HttpRequest) -> HttpResponse:
    return render(request, "tasks/project_list.html", {"rows": selectors.project_overview_list()})


@role_required(read=True)
def project_dashboard(request: HttpRequest, pk: int) -> HttpResponse:
    project = get_object_or_404(Project.objects.select_related("required_skill"), pk=pk)
    throughput = selectors.project_throughput(project=project)
    table = selectors.project_contractor_list(project=project)
    context = {
        "project": project,
        "throughput": throughput,
        "table": table,
        "throughput_chart": _throughput_chart(throughput),
        "quality_chart": _quality_chart(table, project),
        "chart_rows": CHART_ROWS,
    }
    return render(request, "tasks/project_dashboard.html", context)

from django import template

register = template.Library()


@register.filter
def duration(seconds: int | None) -> str:
    """Seconds as “1 h 05 min” (or “4 min”), the way people read working time.

    Under a minute the seconds are shown (“40 s”): “0 min” after real work would look as if
    none of it had been counted.
    """
    total = int(seconds or 0)
    if 0 < total < 60:
        return f"{total} s"
    hours, rest = divmod(total, 3600)
    minutes = rest // 60
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min"

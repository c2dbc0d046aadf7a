"""Pay statements (page and PDF), the earnings page, and “how my pay is computed”."""

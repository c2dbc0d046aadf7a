# Times always carry their zone, so a contractor abroad never guesses which clock a due date uses.
DATETIME_FORMAT = "j M Y, H:i T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
DATE_FORMAT = "j M Y"
